import CSQLiteShim
import GRDB
import ImgSystem

/// `img.db`: one SQLite database in WAL mode for images, cache records and leases (later snapshots).
/// Every change is one IMMEDIATE transaction (GRDB's default for writes), so writers from several
/// processes queue on SQLite's lock instead of failing on an upgrade; the busy timeout bounds the wait.
final class StateDatabase: Sendable {
    let pool: DatabaseQueue
    let path: String

    init(path: String) throws(ContentError) {
        self.path = path
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.label = "img"
        // WAL with synchronous=NORMAL: a commit is atomic and survives the process being killed, but is not
        // fsynced; only a power loss or kernel crash can lose the newest commits, never corrupt the file.
        // Records only ever point at blobs that are already fsynced, so a lost commit leaves unreferenced
        // blobs for GC, not references to missing ones. Each build step saves several fsyncs (3-15 ms each).
        config.prepareDatabase { db in try StateDatabase.useWriteAheadLog(db) }
        // Creating the file, switching it to WAL and migrating are not safe to race (SQLite answers "database
        // is locked" at once, without the busy timeout): processes opening it at once take turns.
        let lock: FileLock
        do { lock = try FileLock(path: path + ".open.lock") } catch {
            throw ContentError(.database, "lock state database \(path)", cause: "\(error)")
        }
        defer { lock.unlock() }
        do {
            pool = try DatabaseQueue(path: path, configuration: config)
            try Self.migrator.migrate(pool)
        } catch {
            throw ContentError(.database, "open state database \(path)", cause: "\(error)")
        }
    }

    /// WAL, set when the file is created (the mode is stored in the file, so later openings find it set), with
    /// synchronous=NORMAL, and no checkpoint when the process closes the database. Together these make a
    /// command pay no fsync for the database at all; each used to pay four (the log created afresh: its
    /// header and directory; the checkpoint at exit: the log and the database), 1-3 ms each on a quiet
    /// disk and tens of ms on a busy one.
    /// - Not GRDB's DatabasePool, nor its `.wal` journal mode: both write a dummy table at every opening
    ///   that finds no log. One connection per process serves img's short queries well enough; other
    ///   processes still read while one writes.
    /// - The log stays beside the database between commands, holding the commits since the last
    ///   checkpoint; the next process reads it back (as after a crash, which SQLite is built for). A commit
    ///   checkpoints it once it passes 100 pages, so it stays small enough to read back quickly.
    static func useWriteAheadLog(_ db: Database) throws {
        guard img_sqlite_use_write_ahead_log(UnsafeMutableRawPointer(db.sqliteConnection)) == 0 else {
            throw DatabaseError(message: "could not switch the state database to write-ahead logging")
        }
    }

    /// The schema, one migration per step; never edit a shipped migration, add a new one.
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-images") { db in
            try db.execute(sql: """
                CREATE TABLE images (
                    name TEXT PRIMARY KEY NOT NULL,   -- normalised reference, Reference.description
                    digest TEXT NOT NULL,
                    media_type TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    descriptor TEXT NOT NULL,         -- the whole Descriptor as JSON (platform, annotations)
                    created DATETIME NOT NULL,
                    updated DATETIME NOT NULL
                );
                CREATE INDEX images_digest ON images(digest);
                """)
        }
        m.registerMigration("v1-cache-records") { db in
            try db.execute(sql: """
                CREATE TABLE cache_records (
                    key TEXT PRIMARY KEY NOT NULL,    -- a cache key digest
                    descriptor TEXT NOT NULL,         -- the result, a Descriptor as JSON; GC keeps what it reaches
                    digest TEXT NOT NULL,
                    created DATETIME NOT NULL,
                    last_used DATETIME NOT NULL
                );
                """)
        }
        m.registerMigration("v1-leases") { db in
            try db.execute(sql: """
                CREATE TABLE leases (
                    id TEXT PRIMARY KEY NOT NULL,
                    created DATETIME NOT NULL,
                    expires DATETIME NOT NULL
                );
                CREATE TABLE lease_resources (
                    lease_id TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
                    digest TEXT NOT NULL,
                    PRIMARY KEY (lease_id, digest)
                );
                """)
        }
        m.registerMigration("v2-blob-sources") { db in
            // rowid kept: it orders a blob's sources by when they were recorded.
            try db.execute(sql: """
                CREATE TABLE blob_sources (
                    digest TEXT NOT NULL,
                    registry TEXT NOT NULL,           -- Reference.domain
                    repository TEXT NOT NULL,         -- Reference.path
                    UNIQUE (digest, registry, repository)
                );
                """)
        }
        m.registerMigration("v3-blob-sources-insecure") { db in
            // A lazily imported cache's layers are fetched later, maybe by another command: it must know the
            // registry was reached over plain HTTP or unverified TLS (`registry.insecure=true`).
            try db.execute(sql: "ALTER TABLE blob_sources ADD COLUMN insecure INTEGER NOT NULL DEFAULT 0")
        }
        return m
    }

    func read<T: Sendable>(_ what: @autoclosure () -> String,
                           _ body: @Sendable @escaping (Database) throws -> T) async throws(ContentError) -> T {
        do { return try await pool.read(body) } catch { throw ContentError.database(what(), error) }
    }

    func write<T: Sendable>(_ what: @autoclosure () -> String,
                            _ body: @Sendable @escaping (Database) throws -> T) async throws(ContentError) -> T {
        do { return try await pool.write(body) } catch { throw ContentError.database(what(), error) }
    }

    /// `PRAGMA integrity_check`: "ok" or the problems SQLite found.
    func integrityCheck() async throws(ContentError) -> [String] {
        try await read("check state database") { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
    }
}
