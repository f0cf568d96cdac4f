import ImgSystem

/// An opened state directory: the blob store, the image store, the cache records and the
/// blobs' registry sources over one database.
/// Open one per process (opening several on one directory is safe too, and is how tests model processes).
package final class StateDirectory: Sendable {
    package let layout: StateLayout
    package let content: ContentStore
    package let images: ImageStore
    package let cache: CacheRecordStore
    package let sources: BlobSourceStore
    let database: StateDatabase
    /// What opening the directory removed of commands that were killed (see `removeLeftovers`).
    package let leftoversRemovedAtOpen: LeftoverReport

    /// Opens (creating if needed) the state directory at `root` and brings its database schema up to date.
    package init(root: String) throws(ContentError) {
        layout = StateLayout(root: root)
        do { try FileSystem.createDirectory(path: layout.root, permissions: 0o700) } catch {
            throw ContentError.io("create state directory \(layout.root)", error)
        }
        database = try StateDatabase(path: layout.databasePath)
        content = try ContentStore(layout: layout, database: database)
        images = ImageStore(database: database)
        cache = CacheRecordStore(database: database)
        sources = BlobSourceStore(database: database)
        do { try ProcessOwners.register(in: layout.ownersDirectory) } catch {
            throw ContentError.io("record this process in \(layout.ownersDirectory)", error)
        }
        leftoversRemovedAtOpen = Self.removeLeftovers(layout)
    }

    /// SQLite's `PRAGMA integrity_check` of `img.db`: `["ok"]` when sound.
    package func databaseIntegrityCheck() async throws(ContentError) -> [String] {
        try await database.integrityCheck()
    }
}
