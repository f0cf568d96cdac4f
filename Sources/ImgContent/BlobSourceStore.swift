package import ImgOCI
import GRDB

/// Which registry repositories are known to hold a blob: recorded when an image is pulled from or pushed to
/// one, so a push to another repository of the same registry can mount the blob instead of uploading it
/// (what containerd's distribution-source labels do), and when a build cache is imported lazily, so a layer
/// left in the registry can be fetched when something needs its bytes (`BlobFetcher`). A hint only: a
/// registry that no longer has the blob answers the mount with an upload session, the fetch with an error.
package actor BlobSourceStore {
    let database: StateDatabase

    init(database: StateDatabase) {
        self.database = database
    }

    /// Notes that `repository` of `registry` (a reference's domain and path) holds every blob of `digests`;
    /// `insecure`: it is reached over plain HTTP or unverified TLS.
    package func record(_ digests: some Sequence<Digest>, registry: String, repository: String,
                        insecure: Bool = false) async throws(ContentError) {
        let rows = digests.map(\.description)
        guard !rows.isEmpty else { return }
        try await database.write("record where blobs came from (\(registry)/\(repository))") { db in
            let statement = try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO blob_sources (digest, registry, repository, insecure) VALUES (?, ?, ?, ?)
                """)
            for digest in rows { try statement.execute(arguments: [digest, registry, repository, insecure]) }
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

    /// Every repository known to hold `digest`, on any registry, most recently recorded first.
    package func locations(of digest: Digest) async throws(ContentError) -> [BlobLocation] {
        try await database.read("read where blob \(digest) came from") { db in
            try Row.fetchAll(db, sql: """
                SELECT registry, repository, insecure FROM blob_sources WHERE digest = ? ORDER BY rowid DESC LIMIT 8
                """, arguments: [digest.description]).map {
                BlobLocation(registry: $0["registry"], repository: $0["repository"], insecure: $0["insecure"])
            }
        }
    }

    /// Whether some repository is known to hold each of `digests`.
    package func allLocated(_ digests: [Digest]) async throws(ContentError) -> Bool {
        guard !digests.isEmpty else { return true }
        return try await database.read("read where blobs came from") { db in
            let statement = try db.cachedStatement(sql: "SELECT 1 FROM blob_sources WHERE digest = ? LIMIT 1")
            for digest in digests where try Int.fetchOne(statement, arguments: [digest.description]) == nil { return false }
            return true
        }
    }

    /// Forgets the sources of blobs that left the store (GC, inside its transaction).
    static func forget(_ digests: [Digest], in db: Database) throws {
        let statement = try db.cachedStatement(sql: "DELETE FROM blob_sources WHERE digest = ?")
        for digest in digests { try statement.execute(arguments: [digest.description]) }
    }
}

/// A registry repository known to hold a blob.
package struct BlobLocation: Sendable, Hashable {
    /// `Reference.domain`.
    package var registry: String
    /// `Reference.path`.
    package var repository: String
    /// Reached over plain HTTP or unverified TLS (`registry.insecure=true`).
    package var insecure: Bool

    package init(registry: String, repository: String, insecure: Bool) {
        self.registry = registry
        self.repository = repository
        self.insecure = insecure
    }
}

/// Puts blobs the content store lacks into it, from where `BlobSourceStore` says they are: the layers of a
/// lazily imported build cache, fetched only when something needs their bytes (a step that runs on them, an
/// export, `img save`, `img unpack`, a push to another registry). Implemented above the registry client.
package protocol BlobFetcher: Sendable {
    /// Ingests each of `descriptors` the store does not have; throws when one cannot be fetched.
    func fetchMissing(_ descriptors: [Descriptor]) async throws
}
