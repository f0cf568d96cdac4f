import Foundation
import Glibc
package import ImgOCI
import CSQLiteShim
import GRDB
import GRDBSQLite
import ImgSystem
import Synchronization

/// Persistent `(path, size, mtime, inode, device) → sha256` of regular files, so an unchanged context is not
/// read again to compute a COPY's cache key.
///
/// An actor by contract, but every member is `nonisolated` and synchronous: `CopySelection.checksum` is
/// synchronous and does its reads in bulk through GRDB's pool, which serialises access within the process;
/// SQLite in WAL mode with a busy timeout does the same between two `img` processes sharing the file.
package actor ChecksumCache {
    /// What identifies one state of a file without reading it.
    package struct Key: Sendable, Hashable {
        package var path: String
        package var size: Int64
        /// Nanoseconds since the epoch.
        package var modified: Int64
        package var inode: UInt64
        package var device: UInt64

        package init(path: String, size: Int64, modified: Int64, inode: UInt64, device: UInt64) {
            self.path = path
            self.size = size
            self.modified = modified
            self.inode = inode
            self.device = device
        }
    }

    /// Counters since this value was made; tests use them to prove a hit did not read the file.
    package struct Statistics: Sendable, Hashable {
        package var hits = 0
        package var misses = 0
        package var stored = 0
        /// Whole selections answered by their fingerprint (no per-file lookup at all).
        package var selectionHits = 0
        /// Of `hits`, the files answered by the list stored under their selection's shape.
        package var shapeHits = 0

        package init(hits: Int = 0, misses: Int = 0, stored: Int = 0, selectionHits: Int = 0, shapeHits: Int = 0) {
            self.hits = hits
            self.misses = misses
            self.stored = stored
            self.selectionHits = selectionHits
            self.shapeHits = shapeHits
        }
    }

    package nonisolated let path: String
    private nonisolated let pool: DatabaseQueue
    private nonisolated let counters = Mutex(Statistics())

    /// Opens (creating when missing) the cache database at `path`, e.g. `<state>/context-checksums.db`.
    package init(path: String) throws(ContextError) {
        self.path = path
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.label = "img-context-checksums"
        // A cache: every answer is checked against the file's stat data, so a commit lost with a power cut
        // costs a re-hash, never a wrong digest. WAL with synchronous=NORMAL skips the fsync per commit and
        // stays consistent.
        // WAL set once at creation, not through GRDB's pool, and no checkpoint at close: no fsync for the
        // cache in a command (see StateDatabase.useWriteAheadLog).
        config.prepareDatabase { db in
            guard img_sqlite_use_write_ahead_log(UnsafeMutableRawPointer(db.sqliteConnection)) == 0 else {
                throw DatabaseError(message: "could not switch the checksum cache to write-ahead logging")
            }
        }
        // Creating the file, switching it to WAL and migrating are not safe to race; two processes opening
        // a fresh cache at once take turns.
        let lock: FileLock
        do { lock = try FileLock(path: path + ".lock") } catch {
            throw ContextError(.database, "cannot lock the checksum cache \(path): \(error)", instruction: nil)
        }
        defer { lock.unlock() }
        do {
            pool = try DatabaseQueue(path: path, configuration: config)
            var migrator = DatabaseMigrator()
            migrator.registerMigration("v1-file-hashes") { db in
                try db.execute(sql: """
                    CREATE TABLE file_hashes (
                        path TEXT PRIMARY KEY NOT NULL,   -- absolute host path
                        size INTEGER NOT NULL,
                        modified INTEGER NOT NULL,        -- mtime, ns since the epoch
                        inode INTEGER NOT NULL,           -- bit pattern of the unsigned value
                        device INTEGER NOT NULL,
                        digest TEXT NOT NULL              -- sha256:… of the content
                    );
                    """)
            }
            migrator.registerMigration("v2-selection-hashes") { db in
                try db.execute(sql: """
                    CREATE TABLE selection_hashes (
                        fingerprint TEXT PRIMARY KEY NOT NULL,  -- sha256 of a selection's stat data
                        digest TEXT NOT NULL                    -- its checksum
                    );
                    """)
            }
            migrator.registerMigration("v3-selection-files") { db in
                try db.execute(sql: """
                    CREATE TABLE selection_files (
                        shape TEXT PRIMARY KEY NOT NULL,  -- sha256 of a selection's headers (paths, types, modes, …)
                        files BLOB NOT NULL               -- its regular files' stat data and digests, in order
                    );
                    """)
            }
            try migrator.migrate(pool)
        } catch {
            throw ContextError(.database, "cannot open the checksum cache \(path): \(error)", instruction: nil)
        }
    }

    package nonisolated var statistics: Statistics { counters.withLock { $0 } }

    /// The cached digest of each key (in the same order) whose every field still matches, nil for the rest.
    package nonisolated func lookup(_ keys: [Key]) throws(ContextError) -> [Digest?] {
        guard !keys.isEmpty else { return [] }
        let found: [Digest?]
        do {
            found = try pool.read { db in
                var result = [Digest?](repeating: nil, count: keys.count)
                func matches(_ key: Key, size: Int64, modified: Int64, inode: Int64, device: Int64) -> Bool {
                    size == key.size && modified == key.modified && UInt64(bitPattern: inode) == key.inode
                        && UInt64(bitPattern: device) == key.device
                }
                // Many files under one directory (a context after a `touch`): one range scan over the
                // primary key instead of a query per file.
                if keys.count > 256, let prefix = Self.commonDirectory(keys) {
                    var wanted: [String: Int] = [:]
                    wanted.reserveCapacity(keys.count)
                    for (index, key) in keys.enumerated() { wanted[key.path] = index }
                    let statement = try db.makeStatement(
                        sql: "SELECT path, size, modified, inode, device, digest FROM file_hashes WHERE path > ? AND path < ?")
                    try statement.setArguments([prefix + "/", prefix + "0"])
                    // SQLite's own column calls: GRDB's row decoding was most of the scan's time.
                    let raw = statement.sqliteStatement
                    func text(_ column: Int32) -> String {
                        guard let bytes = sqlite3_column_text(raw, column) else { return "" }
                        let count = Int(sqlite3_column_bytes(raw, column))
                        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
                    }
                    while true {
                        let step = sqlite3_step(raw)
                        if step == SQLITE_DONE { break }
                        guard step == SQLITE_ROW else { throw DatabaseError(resultCode: ResultCode(rawValue: step)) }
                        guard let index = wanted[text(0)],
                              matches(keys[index], size: sqlite3_column_int64(raw, 1), modified: sqlite3_column_int64(raw, 2),
                                      inode: sqlite3_column_int64(raw, 3), device: sqlite3_column_int64(raw, 4))
                        else { continue }
                        result[index] = try? Digest(parsing: text(5))
                    }
                    return result
                }
                let statement = try db.cachedStatement(
                    sql: "SELECT size, modified, inode, device, digest FROM file_hashes WHERE path = ?")
                for (index, key) in keys.enumerated() {
                    guard let row = try Row.fetchOne(statement, arguments: [key.path]),
                          matches(key, size: row[0], modified: row[1], inode: row[2], device: row[3]) else { continue }
                    result[index] = try? Digest(parsing: row[4] as String)
                }
                return result
            }
        } catch {
            throw ContextError(.database, "cannot read the checksum cache \(path): \(error)", instruction: nil)
        }
        let hits = found.reduce(0) { $0 + ($1 == nil ? 0 : 1) }
        counters.withLock {
            $0.hits += hits
            $0.misses += keys.count - hits
        }
        return found
    }

    /// A whole selection's checksum by the fingerprint of its stat data (see `CopySelection.checksum`): one
    /// read instead of one per file when nothing changed.
    package nonisolated func lookupSelection(_ fingerprint: Digest) throws(ContextError) -> Digest? {
        do {
            let text = try pool.read { db in
                try String.fetchOne(db, sql: "SELECT digest FROM selection_hashes WHERE fingerprint = ?",
                                    arguments: [fingerprint.description])
            }
            let digest = text.flatMap { try? Digest(parsing: $0) }
            if digest != nil { counters.withLock { $0.selectionHits += 1 } }
            return digest
        } catch {
            throw ContextError(.database, "cannot read the checksum cache \(path): \(error)", instruction: nil)
        }
    }

    package nonisolated func storeSelection(_ fingerprint: Digest, digest: Digest) throws(ContextError) {
        do {
            try pool.write { db in
                try db.execute(sql: "INSERT OR REPLACE INTO selection_hashes (fingerprint, digest) VALUES (?, ?)",
                               arguments: [fingerprint.description, digest.description])
            }
        } catch {
            throw ContextError(.database, "cannot write the checksum cache \(path): \(error)", instruction: nil)
        }
    }

    /// A selection's regular files as the last build that stored them saw them: per file, in order, four
    /// little-endian Int64s (size, or -1 when the digest is not to be trusted again; mtime; inode; device) and
    /// the 64 hex digits of its sha256. Kept as bytes: 20,000 files are read and compared on every touched
    /// rebuild, and never turned into 20,000 values.
    package struct ShapeList: Sendable {
        package static let entrySize = 32 + 64
        package private(set) var bytes: [UInt8]

        package var count: Int { bytes.count / Self.entrySize }

        package init(capacity: Int) {
            bytes = []
            bytes.reserveCapacity(capacity * Self.entrySize)
        }

        fileprivate init?(stored: [UInt8]) {
            guard stored.count % Self.entrySize == 0 else { return nil }
            bytes = stored
        }

        package mutating func append(size: Int64, modified: Int64, inode: UInt64, device: UInt64, trusted: Bool,
                                     hex: UnsafeRawBufferPointer) {
            withUnsafeBytes(of: ((trusted ? size : -1).littleEndian, modified.littleEndian,
                                 Int64(bitPattern: inode).littleEndian, Int64(bitPattern: device).littleEndian)) {
                bytes.append(contentsOf: $0)
            }
            bytes.append(contentsOf: hex)
        }

        /// Whether file `index` was trusted and still has this stat data.
        package func matches(_ index: Int, size: Int64, modified: Int64, inode: UInt64, device: UInt64) -> Bool {
            bytes.withUnsafeBytes { raw in
                let base = index * Self.entrySize
                func int(_ at: Int) -> Int64 { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: base + at, as: Int64.self)) }
                return int(0) == size && size >= 0 && int(8) == modified && UInt64(bitPattern: int(16)) == inode
                    && UInt64(bitPattern: int(24)) == device
            }
        }

        /// File `index`'s hex digits, valid inside `body`.
        package func withDigestHex<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
            bytes.withUnsafeBytes { raw in
                let base = index * Self.entrySize + 32
                return body(UnsafeRawBufferPointer(rebasing: raw[base..<(base + 64)]))
            }
        }
    }

    /// The files of the selection with this `shape` (the same paths, types and modes, in the same order) as
    /// a build stored them: after a `touch` or an edit of a few files, one row instead of a lookup per file.
    /// Nil when unknown or not of `count` files.
    package nonisolated func lookupShape(_ shape: Digest, count: Int) throws(ContextError) -> ShapeList? {
        let blob: [UInt8]?
        do {
            blob = try pool.read { db in
                try Data.fetchOne(db, sql: "SELECT files FROM selection_files WHERE shape = ?",
                                  arguments: [shape.description]).map { Array($0) }
            }
        } catch {
            throw ContextError(.database, "cannot read the checksum cache \(path): \(error)", instruction: nil)
        }
        guard let blob, let list = ShapeList(stored: blob), list.count == count else { return nil }
        return list
    }

    /// Counts files answered by a shape's list.
    package nonisolated func countShapeHits(_ count: Int) {
        counters.withLock {
            $0.hits += count
            $0.shapeHits += count
        }
    }

    /// Remembers a selection's files under its shape (see `lookupShape`).
    package nonisolated func storeShape(_ shape: Digest, files: ShapeList) throws(ContextError) {
        do {
            try pool.write { db in
                try db.execute(sql: "INSERT OR REPLACE INTO selection_files (shape, files) VALUES (?, ?)",
                               arguments: [shape.description, Data(files.bytes)])
            }
        } catch {
            throw ContextError(.database, "cannot write the checksum cache \(path): \(error)", instruction: nil)
        }
    }

    /// The deepest directory every key's path is below (`/a/b` for `/a/b/c` and `/a/b/d/e`), or nil.
    private nonisolated static func commonDirectory(_ keys: [Key]) -> String? {
        guard let first = keys.first.map({ Array($0.path.utf8) }) else { return nil }
        // Bytes, not Characters: this runs over every path of a big context.
        var common = first.count
        for key in keys.dropFirst() {
            var path = key.path
            path.withUTF8 { bytes in
                var i = 0
                let limit = min(common, bytes.count)
                while i < limit && bytes[i] == first[i] { i += 1 }
                common = i
            }
        }
        guard let slash = first[..<common].lastIndex(of: UInt8(ascii: "/")), slash > 0 else { return nil }
        return String(decoding: first[..<slash], as: UTF8.self)
    }

    /// Records digests just computed, in one transaction.
    package nonisolated func store(_ entries: [(Key, Digest)]) throws(ContextError) {
        guard !entries.isEmpty else { return }
        let rows = entries
        do {
            try pool.write { db in
                let statement = try db.cachedStatement(sql: """
                    INSERT OR REPLACE INTO file_hashes (path, size, modified, inode, device, digest)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """)
                for (key, digest) in rows {
                    try statement.execute(arguments: [key.path, key.size, key.modified, Int64(bitPattern: key.inode),
                                                      Int64(bitPattern: key.device), digest.description])
                }
            }
        } catch {
            throw ContextError(.database, "cannot write the checksum cache \(path): \(error)", instruction: nil)
        }
        counters.withLock { $0.stored += entries.count }
    }
}
