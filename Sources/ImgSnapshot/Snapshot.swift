package import ImgOCI

/// One layer blob to apply (compressed or not, detected), and the diffID it must have.
package struct LayerBlob: Sendable, Hashable {
    package var path: String
    package var diffID: Digest
    /// How errors name it (`layer sha256:…`).
    package var label: String

    package init(path: String, diffID: Digest, label: String) {
        self.path = path
        self.diffID = diffID
        self.label = label
    }
}

/// The OCI chain id (image-spec config.md): the first layer's diffID, then
/// `sha256(parent-chain + " " + diffID)` for each next layer.
package enum ChainID {
    /// nil for no layers.
    package static func of(_ diffIDs: [Digest]) -> Digest? {
        guard var chain = diffIDs.first else { return nil }
        for diffID in diffIDs.dropFirst() { chain = Digest.sha256(of: Array("\(chain) \(diffID)".utf8)) }
        return chain
    }

    /// The chain id of every prefix: `[of(d[0...0]), of(d[0...1]), ...]`.
    package static func prefixes(_ diffIDs: [Digest]) -> [Digest] {
        var result: [Digest] = []
        for diffID in diffIDs {
            result.append(result.last.map { Digest.sha256(of: Array("\($0) \(diffID)".utf8)) } ?? diffID)
        }
        return result
    }
}

/// A committed, read-only snapshot: the filesystem after a chain of layers.
package struct Snapshot: Sendable, Hashable {
    /// nil: the empty filesystem (no layers).
    package var chainID: Digest?
    package var diffIDs: [Digest]

    package init(diffIDs: [Digest]) {
        self.diffIDs = diffIDs
        chainID = ChainID.of(diffIDs)
    }

    /// No layers.
    package static let empty = Snapshot(diffIDs: [])
}

/// A writable root filesystem on top of a snapshot. Must be released (or committed) by the caller.
package final class Workspace: Sendable {
    /// Absolute and writable: what runc gets.
    package let rootfs: String
    package let parent: Snapshot
    package let backend: SnapshotBackend
    /// The workspace's own directory under the store's `tmp/`; everything in it goes on release.
    package let directory: String
    /// Overlay backends: where the changes land (read by `diff`, kept by `commit`).
    package let upper: String?

    init(rootfs: String, parent: Snapshot, backend: SnapshotBackend, directory: String, upper: String?) {
        self.rootfs = rootfs
        self.parent = parent
        self.backend = backend
        self.directory = directory
        self.upper = upper
    }
}
