package import ImgOCI
import GRDB

/// Which registry repositories are known to hold a blob: recorded when an image is pulled from or pushed to
/// one, so a push to another repository of the same registry can mount the blob instead of uploading it
/// (what containerd's distribution-source labels do). A hint only: a registry that no longer has the blob
/// answers the mount with an upload session.
package actor BlobSourceStore {
    let database: StateDatabase

    init(database: StateDatabase) {
        self.database = database
    }

    /// Notes that `repository` of `registry` (a reference's domain and path) holds every blob of `digests`.
    package func record(_ digests: some Sequence<Digest>, registry: String, repository: String) async throws(ContentError) {
        let rows = digests.map(\.description)
        guard !rows.isEmpty else { return }
        try await database.write("record where blobs came from (\(registry)/\(repository))") { db in
            let statement = try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO blob_sources (digest, registry, repository) VALUES (?, ?, ?)
                """)
            for digest in rows { try statement.execute(arguments: [digest, registry, repository]) }
        }
    }

    /// Repositories of `registry` known to hold `digest`, most recently recorded first.
    package func repositories(holding digest: Digest, registry: String) async throws(ContentError) -> [String] {
        try await database.read("read where blob \(digest) came from") { db in
            try String.fetchAll(db, sql: """
                SELECT repository FROM blob_sources WHERE digest = ? AND registry = ? ORDER BY rowid DESC LIMIT 8
                """, arguments: [digest.description, registry])
        }
    }

    /// Forgets the sources of blobs that left the store (GC, inside its transaction).
    static func forget(_ digests: [Digest], in db: Database) throws {
        let statement = try db.cachedStatement(sql: "DELETE FROM blob_sources WHERE digest = ?")
        for digest in digests { try statement.execute(arguments: [digest.description]) }
    }
}
