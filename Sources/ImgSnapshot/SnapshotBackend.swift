/// How snapshots are stored and workspaces made writable.
package enum SnapshotBackend: String, Sendable, Hashable, CaseIterable {
    /// The kernel's overlayfs (with `userxattr`, so the same layer directories work as real root and in
    /// img's user namespace).
    case overlayfs
    /// The same layer directories, merged by the `fuse-overlayfs` process.
    case fuseOverlayfs = "fuse-overlayfs"
    /// Full copies of each tree; works everywhere, costs space and copying time.
    case native

    /// The directory under the store root that holds this backend's snapshots. Both overlay backends read
    /// the same layer format (0/0 devices, `user.overlay.opaque`), so they share it.
    var format: SnapshotFormat { self == .native ? .native : .overlay }
}

/// What `-b/--backend` asks for.
package enum BackendChoice: String, Sendable, Hashable, CaseIterable {
    case auto, overlayfs, native
    case fuseOverlayfs = "fuse-overlayfs"

    /// The forced backend, or nil for `auto`.
    package var forced: SnapshotBackend? {
        switch self {
        case .auto: nil
        case .overlayfs: .overlayfs
        case .native: .native
        case .fuseOverlayfs: .fuseOverlayfs
        }
    }
}

/// On-disk snapshot formats: one directory each under the store root.
enum SnapshotFormat: String, CaseIterable {
    /// `overlay/<chain>/fs` holds one layer in overlayfs form.
    case overlay
    /// `native/<chain>/fs` holds the whole tree.
    case native
}
