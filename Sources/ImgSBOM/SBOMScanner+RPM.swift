import Foundation
import GRDB

extension SBOMScanner {
    /// Where rpm keeps its sqlite database: Fedora 33+ and RHEL 9 (`/var/lib/rpm` is often a symlink to the
    /// second, which is followed inside the root).
    static let rpmDatabases = ["/var/lib/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite"]
    static let rpmDatabaseLimit: Int64 = 1 << 30

    /// The packages of rpm's sqlite database (table `Packages`, one header blob per package). The database is
    /// copied out of the root through a descriptor opened inside it, so sqlite never resolves a path in the
    /// image nor writes a journal into it.
    static func rpmPackages(_ fs: RootFileSystem) throws -> [SBOMPackage] {
        var found: String?
        for path in rpmDatabases where try fs.entry(path, followLinks: true) != nil {
            found = path
            break
        }
        guard let path = found else { return [] }
        let directory = FileManager.default.temporaryDirectory.appending(path: "img-sbom-rpm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let copy = directory.appending(path: "rpmdb.sqlite").path
        guard try fs.copy(path, to: copy, limit: rpmDatabaseLimit) else { return [] }
        // A write-ahead log left beside the database holds its newest transactions: sqlite reads it too.
        _ = try fs.copy(path + "-wal", to: copy + "-wal", limit: rpmDatabaseLimit)
        return try rpmPackages(fs, database: copy, path: path)
    }

    private static func rpmPackages(_ fs: RootFileSystem, database copy: String, path: String) throws -> [SBOMPackage] {
        let blobs: [[UInt8]]
        do {
            // Opened for writing although only read: the copy is ours, and a read-only open of a database in
            // WAL mode fails without its -shm file, which the image does not carry.
            let queue = try DatabaseQueue(path: copy)
            blobs = try queue.read { db in
                try Row.fetchAll(db, sql: "SELECT blob FROM Packages ORDER BY hnum").compactMap { row -> [UInt8]? in
                    (row[0] as Data?).map { [UInt8]($0) }
                }
            }
            try queue.close()
        } catch {
            throw SBOMError.malformed(path, "not an rpm sqlite database (\(error))")
        }
        var packages: [SBOMPackage] = []
        for blob in blobs {
            let header: RPMHeader
            do { header = try RPMHeader(blob) } catch { throw SBOMError.malformed(path, error.description) }
            // gpg-pubkey entries are the keys rpm trusts, stored as pseudo-packages: nothing is installed.
            guard let name = header.string(.name), name != "gpg-pubkey", let version = header.string(.version) else { continue }
            let release = header.string(.release)
            let epoch = header.int32Array(.epoch).first.map(String.init)
            packages.append(SBOMPackage(
                ecosystem: .rpm, name: name, version: release.map { "\(version)-\($0)" } ?? version,
                architecture: header.string(.arch), epoch: epoch,
                supplier: header.string(.vendor) ?? header.string(.packager), license: header.string(.license),
                sourcePackage: header.string(.sourceRPM), files: fs.checksums(header.filePaths)))
        }
        return packages
    }
}
