import Foundation
import Glibc
@testable import ImgSBOM
import ImgTestSupport
import Testing

/// An image is untrusted input: whatever its files hold, a scan ends with packages or one clear error.
@Suite struct HostileInputTests {
    @Test func hugeDatabaseIsAnErrorNamingIt() throws {
        let root = try SBOMFixture()
        try root.write("/var/lib/dpkg/status", "")
        // Sparse: the size is past the limit without writing it.
        #expect(truncate(root.root + "/var/lib/dpkg/status", off_t(SBOMScanner.databaseLimit + 1)) == 0)
        #expect {
            try root.scan()
        } throws: { error in
            (error as? SBOMError)?.errorCode == "sbom-too-large" && "\(error)".contains("/var/lib/dpkg/status")
        }
    }

    @Test func hugePerPackageFilesAreSkipped() throws {
        let root = try SBOMFixture()
        try root.write("/var/lib/dpkg/status", "Package: big\nStatus: install ok installed\nVersion: 1\n")
        try root.write("/usr/share/doc/big/copyright", "")
        #expect(truncate(root.root + "/usr/share/doc/big/copyright", off_t(SBOMScanner.extraLimit + 1)) == 0)
        let packages = try root.scan()
        #expect(packages.map(\.name) == ["big"])
        #expect(packages.first?.license == nil)
    }

    @Test func fifosAndLoopsAreNotRead() throws {
        let root = try SBOMFixture()
        try root.write("/var/lib/dpkg/status", "Package: p\nStatus: install ok installed\nVersion: 1\n")
        try root.write("/var/lib/dpkg/info/p.list", "/pipe\n/loop\n/file\n")
        try root.write("/file", "content")
        #expect(mkfifo(root.root + "/pipe", 0o644) == 0)
        try root.symlink("/loop", to: "/loop")
        // A FIFO where a database should be would block a reader for ever; a loop would never end.
        try root.write("/lib/apk/db/.keep", "")
        #expect(mkfifo(root.root + "/lib/apk/db/installed", 0o644) == 0)
        try root.symlink("/etc/os-release", to: "/etc/os-release")
        let packages = try root.scan()
        #expect(packages.map(\.name) == ["p"])
        #expect(packages.first?.files.map(\.path) == ["/file"])
    }

    @Test func binaryGarbageGivesNoPackages() throws {
        let root = try SBOMFixture()
        let garbage = (0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 7919 >> 3) }
        try root.write("/var/lib/dpkg/status", bytes: garbage)
        try root.write("/lib/apk/db/installed", bytes: garbage)
        try root.write("/usr/lib/python3/dist-packages/x-1.dist-info/METADATA", bytes: garbage)
        try root.write("/usr/lib/python3/dist-packages/x-1.dist-info/RECORD", bytes: garbage)
        #expect(try root.scan().isEmpty)
    }

    @Test func missingRootIsAnError() throws {
        let root = try SBOMFixture()
        let missing = root.root + "/not-there"
        #expect {
            try SBOMScanner.scan(root: missing)
        } throws: { error in
            (error as? SBOMError)?.errorCode == "sbom-root" && "\(error)".contains(missing)
        }
    }

    @Test func emptyRootHasNoPackages() throws {
        #expect(try SBOMFixture().scan().isEmpty)
    }
}
