import Foundation
import GRDB
@testable import ImgSBOM
import ImgTestSupport
import Testing

/// rpm's sqlite database written the way rpm writes it: table Packages, one header blob per package.
@Suite struct RPMScannerTests {
    enum Value {
        case string(String)
        case strings([String])
        case int32s([Int32])
    }

    /// An rpm header blob (no magic, as rpmdb stores it): entry count, data size, 16-byte entries, data.
    static func header(_ values: [(Int32, Value)]) -> [UInt8] {
        func be(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)] }
        var entries: [UInt8] = []
        var data: [UInt8] = []
        for (tag, value) in values {
            let type: UInt32, count: Int
            switch value {
            case .int32s(let numbers):
                while data.count % 4 != 0 { data.append(0) }
                type = 4
                count = numbers.count
                entries += be(UInt32(bitPattern: tag)) + be(type) + be(UInt32(data.count)) + be(UInt32(count))
                for number in numbers { data += be(UInt32(bitPattern: number)) }
                continue
            case .string(let text):
                type = 6
                count = 1
                entries += be(UInt32(bitPattern: tag)) + be(type) + be(UInt32(data.count)) + be(UInt32(count))
                data += Array(text.utf8) + [0]
            case .strings(let texts):
                type = 8
                count = texts.count
                entries += be(UInt32(bitPattern: tag)) + be(type) + be(UInt32(data.count)) + be(UInt32(count))
                for text in texts { data += Array(text.utf8) + [0] }
            }
        }
        return be(UInt32(values.count)) + be(UInt32(data.count)) + entries + data
    }

    static func writeDatabase(_ path: String, _ blobs: [[UInt8]]) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
            for blob in blobs { try db.execute(sql: "INSERT INTO Packages (blob) VALUES (?)", arguments: [Data(blob)]) }
        }
        try queue.close()
    }

    @Test func headersOfTheSqliteDatabase() throws {
        let root = try SBOMFixture()
        try root.write("/etc/os-release", "ID=\"fedora\"\nVERSION_ID=40\n")
        try root.write("/usr/bin/bash", "bash")
        try root.write("/usr/share/doc/bash/README", "readme")
        let bash = Self.header([
            (1000, .string("bash")), (1001, .string("5.2.26")), (1002, .string("3.fc40")), (1003, .int32s([1])),
            (1011, .string("Fedora Project")), (1014, .string("GPL-3.0-or-later")), (1022, .string("x86_64")),
            (1044, .string("bash-5.2.26-3.fc40.src.rpm")), (1116, .int32s([0, 1, 7])),
            (1117, .strings(["bash", "README", "out-of-range"])), (1118, .strings(["/usr/bin/", "/usr/share/doc/bash/"])),
        ])
        let key = Self.header([(1000, .string("gpg-pubkey")), (1001, .string("abc")), (1002, .string("1"))])
        let noarch = Self.header([(1000, .string("fedora-release")), (1001, .string("40")), (1002, .string("39")),
                                  (1022, .string("noarch")), (1014, .string("MIT"))])
        // Fedora keeps the database under /usr and links /var/lib/rpm to it.
        try Self.writeDatabase(root.root + "/usr/lib/sysimage/rpm/rpmdb.sqlite", [bash, key, noarch])
        try root.symlink("/var/lib/rpm", to: "../../usr/lib/sysimage/rpm")
        let packages = try root.scan()
        #expect(packages.map(\.name) == ["bash", "fedora-release"])
        let found = try #require(packages.named("bash"))
        #expect(found.version == "5.2.26-3.fc40")
        #expect(found.epoch == "1")
        #expect(found.license == "GPL-3.0-or-later")
        #expect(found.supplier == "Fedora Project")
        #expect(found.files.map(\.path) == ["/usr/bin/bash", "/usr/share/doc/bash/README"])
        #expect(found.purl == "pkg:rpm/fedora/bash@5.2.26-3.fc40?arch=x86_64&distro=fedora-40&epoch=1")
        let document = SPDXDocument.make(packages: packages, name: "f", namespace: "https://example.org/f", created: Date(timeIntervalSince1970: 0), toolVersion: "test")
        #expect(document.packages.first { $0.name == "bash" }?.versionInfo == "1:5.2.26-3.fc40")
    }

    @Test func transactionsStillInTheWriteAheadLogAreRead() throws {
        let root = try SBOMFixture()
        let path = root.root + "/var/lib/rpm/rpmdb.sqlite"
        try FileManager.default.createDirectory(atPath: root.root + "/var/lib/rpm", withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA wal_autocheckpoint = 0") }
        // Kept open while the root is scanned, so nothing is checkpointed into the database file.
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
            let blob = Self.header([(1000, .string("logged")), (1001, .string("1")), (1002, .string("2"))])
            try db.execute(sql: "INSERT INTO Packages (blob) VALUES (?)", arguments: [Data(blob)])
        }
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        #expect(try root.scan().map(\.version) == ["1-2"])
        try queue.close()
    }

    @Test func truncatedHeaderIsAnErrorNamingTheDatabase() throws {
        let root = try SBOMFixture()
        var blob = Self.header([(1000, .string("bash")), (1001, .string("5"))])
        blob.removeLast(4)
        try Self.writeDatabase(root.root + "/var/lib/rpm/rpmdb.sqlite", [blob])
        #expect {
            try root.scan()
        } throws: { error in
            (error as? SBOMError)?.errorCode == "sbom-malformed" && "\(error)".contains("/var/lib/rpm/rpmdb.sqlite")
        }
    }

    @Test func aFileThatIsNoDatabaseIsAnError() throws {
        let root = try SBOMFixture()
        try root.write("/var/lib/rpm/rpmdb.sqlite", "not sqlite at all")
        #expect(throws: SBOMError.self) { try root.scan() }
    }

    @Test func hostileHeadersNeverReadOutOfBounds() throws {
        // Counts and offsets far past the blob, and every truncation of a real header.
        let real = Self.header([(1000, .string("n")), (1117, .strings(["a", "b"])), (1116, .int32s([0, 0]))])
        for length in 0..<real.count {
            #expect(throws: RPMHeader.Malformed.self) { try RPMHeader(Array(real.prefix(length))) }
        }
        #expect(throws: RPMHeader.Malformed.self) { try RPMHeader([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]) }
        var lying = real
        lying[8 + 12] = 0x7f  // the first entry's count: billions of strings
        let header = try RPMHeader(lying)
        #expect(header.string(.name) == "n")
        #expect(header.filePaths.isEmpty)
    }
}
