import Glibc
import ImgSystem

extension LayerApplier {
    /// A `.wh.` entry: in merged form it deletes from the lower layers already in the root; in overlay
    /// form it becomes a 0/0 character device or an opaque xattr for the kernel to read.
    func applyWhiteout(name: String, in directory: [String], entry: TarEntry) throws(ArchiveError) {
        summary.whiteouts += 1
        let isOpaque = name == Whiteout.opaque
        let target = String(name.dropFirst(Whiteout.prefix.count))
        if !isOpaque && (target.isEmpty || target == "." || target == ".." || target.hasPrefix(Whiteout.prefix)) {
            summary.warn(.init(kind: .whiteout, path: entry.path, message: "malformed whiteout ignored"))
            return
        }
        let overlay: LayerApplyOptions.OverlayWhiteouts?
        if case .overlay(let o) = options.whiteouts { overlay = o } else { overlay = nil }
        let dir: OpenDirectory
        do {
            // Overlay form needs the directory to carry the marker; merged form has nothing to delete
            // when the directory is missing.
            dir = try root.openDirectory(directory, createMode: overlay == nil ? nil : 0o755)
        } catch where overlay == nil && (error.code == ENOENT || error.code == ENOTDIR) {
            return
        } catch {
            throw resolutionError(error, entry.path)
        }
        let dirPath = dir.path.joined(separator: "/")
        func childPath(_ child: String) -> String { dirPath.isEmpty ? child : dirPath + "/" + child }

        if let overlay {
            if isOpaque {
                try setOverlayXattr(overlay, "opaque", "y", in: dir.fd, ".", path: entry.path)
            } else if !created.contains(childPath(target)) {
                try makeOverlayWhiteout(overlay, target, in: dir, path: entry.path)
            }
            return
        }
        do {
            if isOpaque {
                try pruneOpaque(dir.fd, dirPath)
            } else if !created.contains(childPath(target)) {
                try DirectoryEntries.removeTree(in: dir.fd, target)
            }
        } catch {
            throw fail(.io, "cannot apply the whiteout", entry.path, error)
        }
    }

    /// Removes what lower layers left in a directory, keeping what this layer created there (recursively:
    /// a directory this layer re-declared keeps only this layer's children).
    private func pruneOpaque(_ parent: Int32, _ path: String) throws(SystemError) {
        for child in try DirectoryEntries.names(in: parent) {
            let childPath = path.isEmpty ? child : path + "/" + child
            guard created.contains(childPath) else {
                try DirectoryEntries.removeTree(in: parent, child)
                continue
            }
            if try FileStatus.at(parent, child)?.kind == .directory {
                let fd = openat(parent, child, OpenFlags.path | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard fd >= 0 else { throw SystemError.errno("open \(childPath)") }
                defer { close(fd) }
                try pruneOpaque(fd, childPath)
            }
        }
    }

    private func makeOverlayWhiteout(_ overlay: LayerApplyOptions.OverlayWhiteouts, _ name: String, in dir: OpenDirectory,
                                     path: String) throws(ArchiveError) {
        do { try DirectoryEntries.removeTree(in: dir.fd, name) } catch { throw fail(.io, "cannot replace what is there", path, error) }
        if overlay.form != .xattr {
            if mknodat(dir.fd, name, S_IFCHR | 0o000, 0) == 0 { return }
            let error = SystemError.errno("mknod")
            guard error.code == EPERM || error.code == EACCES else { throw fail(.io, "cannot create the whiteout device", path, error) }
            guard overlay.form == .deviceElseXattr else {
                throw fail(.unsupported, "needs a 0/0 character device for overlayfs, and mknod is not permitted", path, error)
            }
            summary.warn(.init(kind: .whiteout, path: path, message: "mknod not permitted; wrote an xattr whiteout (overlayfs 6.7+)"))
        }
        // The kernel's alternative (6.7+): an empty file marked as a whiteout, in a directory marked as
        // holding such files ("x"), unless it is already opaque ("y"), which hides everything anyway.
        let fd = openat(dir.fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail(.io, "cannot create the whiteout file", path, .errno("open")) }
        close(fd)
        try setOverlayXattr(overlay, "whiteout", "", in: dir.fd, name, path: path)
        let current = try? ExtendedAttributes.value(at: dir.fd, ".", attribute: overlay.prefix + "opaque")
        if current != Array("y".utf8) {
            try setOverlayXattr(overlay, "opaque", "x", in: dir.fd, ".", path: path)
        }
    }

    private func setOverlayXattr(_ overlay: LayerApplyOptions.OverlayWhiteouts, _ key: String, _ value: String,
                                 in parent: Int32, _ name: String, path: String) throws(ArchiveError) {
        let attribute = overlay.prefix + key
        do { try ExtendedAttributes.set(at: parent, name, attribute: attribute, value: Array(value.utf8)) } catch {
            throw fail(.unsupported, "cannot set \(attribute) for overlayfs\(overlay.namespace == .trusted ? " (use the user namespace when unprivileged)" : "")", path, error)
        }
    }
}
