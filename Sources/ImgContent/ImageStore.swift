import Foundation
package import ImgOCI
import GRDB

/// Image names → descriptors, in the `images` table of `img.db`. An actor so one process issues its
/// changes in order; other processes are serialised by SQLite, and every change is one transaction.
/// Names are stored normalised with a default tag: `busybox` is `docker.io/library/busybox:latest`.
package actor ImageStore {
    let database: StateDatabase

    init(database: StateDatabase) {
        self.database = database
    }

    /// Records `name` → `descriptor`, replacing what the name pointed at; an existing name keeps its
    /// `created` time.
    @discardableResult
    package func put(_ name: Reference, descriptor: Descriptor) async throws(ContentError) -> ImageRecord {
        let name = name.withDefaultTag
        let json = try Self.encode(descriptor)
        let row = try await database.write("record image \(name)") { db in
            try Self.upsert(db, name: name, descriptor: descriptor, json: json, now: Date())
            return try Self.fetch(db, name)!
        }
        return try row.record()
    }

    /// The image called `name`, or nil.
    package func find(_ name: Reference) async throws(ContentError) -> ImageRecord? {
        let name = name.withDefaultTag
        return try await database.read("read image \(name)") { db in try Self.fetch(db, name) }?.record()
    }

    /// The image called `name`; throws `imageNotFound`.
    package func get(_ name: Reference) async throws(ContentError) -> ImageRecord {
        guard let record = try await find(name) else { throw ContentError.imageNotFound(name.withDefaultTag) }
        return record
    }

    /// Images matching `filter`, sorted by name.
    package func list(_ filter: ImageFilter = .all) async throws(ContentError) -> [ImageRecord] {
        let rows = try await database.read("list images") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM images ORDER BY name").map(ImageRow.init)
        }
        var records: [ImageRecord] = []
        for row in rows {
            let record = try row.record()
            if filter.matches(record) { records.append(record) }
        }
        return records
    }

    /// Removes `name` and returns what it was; throws `imageNotFound`.
    @discardableResult
    package func remove(_ name: Reference) async throws(ContentError) -> ImageRecord {
        try await remove([name])[0]
    }

    /// Removes all of `names` in one transaction, or none if one is missing.
    @discardableResult
    package func remove(_ names: [Reference]) async throws(ContentError) -> [ImageRecord] {
        let names = names.map(\.withDefaultTag)
        let rows = try await database.write("remove images") { db -> [ImageRow] in
            var removed: [ImageRow] = []
            for name in names {
                guard let row = try Self.fetch(db, name) else { throw ContentError.imageNotFound(name) }
                try db.execute(sql: "DELETE FROM images WHERE name = ?", arguments: [name.description])
                removed.append(row)
            }
            return removed
        }
        return try rows.map { (row) throws(ContentError) in try row.record() }
    }

    /// Points `destination` at what `source` points at (`img tag`).
    @discardableResult
    package func tag(_ source: Reference, as destination: Reference) async throws(ContentError) -> ImageRecord {
        try await copy(source, to: destination, removingSource: false)
    }

    /// Moves an image to a new name: `destination` is recorded and `source` removed in one transaction.
    @discardableResult
    package func rename(_ source: Reference, to destination: Reference) async throws(ContentError) -> ImageRecord {
        try await copy(source, to: destination, removingSource: true)
    }

    private func copy(_ source: Reference, to destination: Reference,
                      removingSource: Bool) async throws(ContentError) -> ImageRecord {
        let source = source.withDefaultTag, destination = destination.withDefaultTag
        let row = try await database.write("tag \(source) as \(destination)") { db -> ImageRow in
            guard let from = try Self.fetch(db, source) else { throw ContentError.imageNotFound(source) }
            try Self.upsert(db, name: destination, descriptor: nil, json: from.descriptorJSON, now: Date())
            if removingSource, source != destination {
                try db.execute(sql: "DELETE FROM images WHERE name = ?", arguments: [source.description])
            }
            return try Self.fetch(db, destination)!
        }
        return try row.record()
    }

    // MARK: rows

    private static func upsert(_ db: Database, name: Reference, descriptor: Descriptor?, json: String, now: Date) throws {
        let descriptor = try descriptor ?? decode(json, name: name.description)
        try db.execute(sql: """
            INSERT INTO images (name, digest, media_type, size, descriptor, created, updated)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(name) DO UPDATE SET digest = excluded.digest, media_type = excluded.media_type,
                size = excluded.size, descriptor = excluded.descriptor, updated = excluded.updated
            """, arguments: [name.description, descriptor.digest.description, descriptor.mediaType.rawValue,
                             descriptor.size, json, StoredDate(now), StoredDate(now)])
    }

    private static func fetch(_ db: Database, _ name: Reference) throws -> ImageRow? {
        try Row.fetchOne(db, sql: "SELECT * FROM images WHERE name = ?", arguments: [name.description]).map(ImageRow.init)
    }

    static func encode(_ descriptor: Descriptor) throws(ContentError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { return String(decoding: try encoder.encode(descriptor), as: UTF8.self) } catch {
            throw ContentError(.invalidDocument, "encode descriptor \(descriptor.digest)", cause: "\(error)")
        }
    }

    static func decode(_ json: String, name: String) throws(ContentError) -> Descriptor {
        do { return try JSONDecoder().decode(Descriptor.self, from: Data(json.utf8)) } catch {
            throw ContentError(.invalidDocument, "invalid stored descriptor for \(name)", cause: "\(error)")
        }
    }
}

/// A row of `images` as plain values, so it can leave GRDB's closure.
struct ImageRow: Sendable {
    var name: String
    var descriptorJSON: String
    var created: Date
    var updated: Date

    init(_ row: Row) {
        name = row["name"]
        descriptorJSON = row["descriptor"]
        created = (row["created"] as StoredDate?)?.date ?? .distantPast
        updated = (row["updated"] as StoredDate?)?.date ?? .distantPast
    }

    func record() throws(ContentError) -> ImageRecord {
        let reference: Reference
        do { reference = try Reference(parsing: name) } catch {
            throw ContentError(.invalidDocument, "invalid stored image name \"\(name)\"", cause: error.message)
        }
        return ImageRecord(name: reference, descriptor: try ImageStore.decode(descriptorJSON, name: name),
                           created: created, updated: updated)
    }
}
