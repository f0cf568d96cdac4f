package import ImgOCI

/// Where things live in a state directory (see design.md). Only paths; nothing here touches the disk.
package struct StateLayout: Sendable, Hashable {
    package let root: String

    package init(root: String) {
        var root = root
        while root.count > 1, root.hasSuffix("/") { root.removeLast() }
        self.root = root
    }

    package var contentDirectory: String { root + "/content" }
    package var blobsDirectory: String { contentDirectory + "/blobs" }
    package var ingestDirectory: String { contentDirectory + "/ingest" }
    package var databasePath: String { root + "/img.db" }
    /// The snapshot store's root (`SnapshotStore`): unpacked layers and build workspaces.
    package var snapshotsDirectory: String { root + "/snapshots" }
    /// The stat-keyed cache of build-context checksums (`ChecksumCache`).
    package var contextChecksumsPath: String { root + "/context-checksums.db" }
    /// `RUN --mount=type=cache` directories, by id.
    package var cacheMountsDirectory: String { root + "/cache-mounts" }
    /// Why each step missed the cache last time (`--debug` explanations).
    package var cacheExplainDirectory: String { root + "/cache-explain" }
    /// Build-time scratch of the runtime (bundles, runc state, secret files).
    package var runtimeDirectory: String { root + "/runtime" }
    /// The entries of the state root that only speed builds up (`img prune --all` removes them): cache
    /// mounts, miss explanations and the checksum cache with its SQLite journal files.
    package var buildCacheEntries: [String] {
        [cacheMountsDirectory, cacheExplainDirectory, contextChecksumsPath, contextChecksumsPath + "-wal",
         contextChecksumsPath + "-shm"].map { String($0.dropFirst(root.count + 1)) }
    }
    /// Scratch directories of commands (`build-<token>-…`, `load-…`, `save-…`, `add-…`).
    package var temporaryDirectory: String { root + "/tmp" }
    /// One record per running img process, flock'd by it (`ProcessOwners`).
    package var ownersDirectory: String { root + "/owners" }
    /// RUN steps' bundles (`step-<token>-…`), made by the runtime.
    package var bundlesDirectory: String { root + "/runtime/bundles" }
    /// runc's `--root` (`img-<token>-…` containers).
    package var runcDirectory: String { root + "/runtime/runc" }
    /// flock'd shared by steps that make a blob visible, exclusively by garbage collection.
    package var lockPath: String { root + "/lock" }

    package func blobsDirectory(_ algorithm: Digest.Algorithm) -> String { blobsDirectory + "/" + algorithm.rawValue }
    package func blobPath(_ digest: Digest) -> String { blobsDirectory(digest.algorithm) + "/" + digest.hex }
    /// The partial file of a resumable ingest, keyed by the digest it must end up with.
    package func ingestPath(_ digest: Digest) -> String {
        ingestDirectory + "/" + digest.algorithm.rawValue + "-" + digest.hex
    }
}
