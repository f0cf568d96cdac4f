package import Foundation
package import ImgOCI
import GRDB

/// A build cache entry: the result of the step whose cache key is `key`. GC keeps everything the result
/// descriptor reaches, so cached layers survive until the record is pruned.
package struct CacheRecord: Sendable, Hashable {
    package var key: Digest
    package var result: Descriptor
    package var created: Date
    package var lastUsed: Date
}

/// The `cache_records` table. Minimal for now: the solver will grow it.
package actor CacheRecordStore {
    let database: StateDatabase

    init(database: StateDatabase) {
        self.database = database
    }

    @discardableResult
    package func put(key: Digest, result: Descriptor) async throws(ContentError) -> CacheRecord {
        let json = try ImageStore.encode(result)
        let now = Date()
        try await database.write("record cache entry \(key)") { db in
            try db.execute(sql: """
                INSERT INTO cache_records (key, descriptor, digest, created, last_used) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(key) DO UPDATE SET descriptor = excluded.descriptor, digest = excluded.digest,
                    last_used = excluded.last_used
                """, arguments: [key.description, json, result.digest.description, StoredDate(now), StoredDate(now)])
        }
        return try await get(key, touch: false)!
    }

    /// The record for `key`, marking it used now unless `touch` is false.
    package func get(_ key: Digest, touch: Bool = true) async throws(ContentError) -> CacheRecord? {
        let now = Date()
        let row = try await database.write("read cache entry \(key)") { db -> CacheRow? in
            if touch {
                try db.execute(sql: "UPDATE cache_records SET last_used = ? WHERE key = ?", arguments: [StoredDate(now), key.description])
            }
            return try Row.fetchOne(db, sql: "SELECT * FROM cache_records WHERE key = ?", arguments: [key.description])
                .map(CacheRow.init)
        }
        return try row?.record()
    }

    package func list() async throws(ContentError) -> [CacheRecord] {
        let rows = try await database.read("list cache entries") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM cache_records ORDER BY key").map(CacheRow.init)
        }
        return try rows.map { (row) throws(ContentError) in try row.record() }
    }

    @discardableResult
    package func remove(_ key: Digest) async throws(ContentError) -> Bool {
        try await database.write("remove cache entry \(key)") { db in
            try db.execute(sql: "DELETE FROM cache_records WHERE key = ?", arguments: [key.description])
            return db.changesCount > 0
        }
    }

    /// Removes records not used since `date`; returns how many.
    @discardableResult
    package func prune(unusedSince date: Date) async throws(ContentError) -> Int {
        try await database.write("prune cache entries") { db in
            try db.execute(sql: "DELETE FROM cache_records WHERE last_used < ?", arguments: [StoredDate(date)])
            return db.changesCount
        }
    }
}

struct CacheRow: Sendable {
    var key: String
    var descriptorJSON: String
    var created: Date
    var lastUsed: Date

    init(_ row: Row) {
        key = row["key"]
        descriptorJSON = row["descriptor"]
        created = (row["created"] as StoredDate?)?.date ?? .distantPast
        lastUsed = (row["last_used"] as StoredDate?)?.date ?? .distantPast
    }

    func record() throws(ContentError) -> CacheRecord {
        let digest: Digest
        do { digest = try Digest(parsing: key) } catch {
            throw ContentError(.invalidDocument, "invalid stored cache key \"\(key)\"", cause: error.message)
        }
        return CacheRecord(key: digest, result: try ImageStore.decode(descriptorJSON, name: "cache entry \(key)"),
                           created: created, lastUsed: lastUsed)
    }
}
