import Glibc
import ImgArchive
import ImgSystem

/// Turns a finished upper directory into the layer form the snapshot store keeps, so that a committed
/// workspace serves both overlay backends: fuse-overlayfs may mark deletions with `.wh.NAME` files and
/// opaque directories with `.wh..wh..opq` or its own xattr, where the kernel wants 0/0 devices and
/// `user.overlay.opaque`. Overlay's bookkeeping xattrs (origin, impure...) mean nothing in a lower layer
/// and go.
enum OverlayUpper {
    static let opaqueAttribute = "user.overlay.opaque"
    static let foreignOpaque = ["user.fuseoverlayfs.opaque", "trusted.overlay.opaque"]
    /// Every name an opaque directory's mark goes by, ours first.
    static let opaqueMarks = [opaqueAttribute] + foreignOpaque
    static let kept: Set<String> = ["user.overlay.opaque", "user.overlay.whiteout"]
    static let privatePrefixes = ["user.overlay.", "trusted.overlay.", "user.fuseoverlayfs."]

    static func normalize(_ upper: String) throws(SnapshotError) {
        let fd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SnapshotError(.io, "cannot open \(upper)", cause: SystemError.errno("open")) }
        defer { close(fd) }
        do { try directory(fd) } catch { throw SnapshotError(.io, "cannot prepare \(upper) as a layer", cause: error) }
    }

    private static func directory(_ fd: Int32) throws(SystemError) {
        try attributes(fd, ".", isDirectory: true)
        for name in try DirectoryEntries.names(in: fd) {
            guard let status = try FileStatus.at(fd, name) else { continue }
            if name == Whiteout.opaque {
                guard unlinkat(fd, name, 0) == 0 else { throw SystemError.errno("unlink \(name)") }
                try ExtendedAttributes.set(at: fd, ".", attribute: opaqueAttribute, value: Array("y".utf8))
                continue
            }
            if name.hasPrefix(Whiteout.prefix) {
                // A regular `.wh.NAME` is a deletion; anything else so named is fuse-overlayfs hiding its
                // own markers (`.wh..opq`), meaningless in a lower layer.
                guard unlinkat(fd, name, 0) == 0 else { throw SystemError.errno("unlink \(name)") }
                if status.kind == .regular {
                    let target = String(name.dropFirst(Whiteout.prefix.count))
                    try DirectoryEntries.removeTree(in: fd, target)
                    guard mknodat(fd, target, S_IFCHR, 0) == 0 else { throw SystemError.errno("mknod whiteout \(target)") }
                }
                continue
            }
            if status.kind == .directory {
                let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard child >= 0 else { throw SystemError.errno("open \(name)") }
                defer { close(child) }
                try directory(child)
            } else if status.kind == .regular {
                try attributes(fd, name, isDirectory: false)
            }
        }
    }

    private static func attributes(_ fd: Int32, _ name: String, isDirectory: Bool) throws(SystemError) {
        let all = try ExtendedAttributes.all(at: fd, name)
        for (attribute, value) in all where privatePrefixes.contains(where: attribute.hasPrefix) && !kept.contains(attribute) {
            try ExtendedAttributes.remove(at: fd, name, attribute: attribute)
            if isDirectory, foreignOpaque.contains(attribute), value == Array("y".utf8) {
                try ExtendedAttributes.set(at: fd, name, attribute: opaqueAttribute, value: value)
            }
        }
    }
}
