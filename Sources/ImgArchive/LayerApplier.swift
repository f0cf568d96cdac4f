import Glibc
package import ImgOCI
import ImgSystem

/// Applies a layer tar into a root directory. Every name is resolved inside the root (see
/// `RootedDirectory`): `..` cannot climb out, symlinks already in the root or placed by earlier entries
/// are followed only as if the root were `/`, and the final component is never followed, so an entry
/// replaces a symlink instead of writing through it. Names that lexically climb above the root are
/// rejected.
package final class LayerApplier {
    let root: RootedDirectory
    let options: LayerApplyOptions
    let label: String?
    var summary = LayerApplySummary()
    /// Paths (as resolved, joined by `/`) this layer created: whiteouts only hide lower layers' files.
    var created: Set<String> = []
    /// Directories whose mode and times are set at the end, after their contents are written.
    var directories: [(components: [String], entry: TarEntry)] = []

    init(root: String, options: LayerApplyOptions, label: String?) throws(ArchiveError) {
        do { self.root = try RootedDirectory(path: root) } catch {
            throw ArchiveError(.io, "cannot open the root \(root)", archive: label, cause: error)
        }
        self.options = options
        self.label = label
    }

    /// Applies every entry of `reader` into `root`.
    package static func apply(_ reader: TarReader, to root: String, options: LayerApplyOptions = .init()) throws(ArchiveError) -> LayerApplySummary {
        let applier = try LayerApplier(root: root, options: options, label: reader.label)
        try applier.run(reader)
        return applier.summary
    }

    /// Applies the layer blob at `path` (any compression), checking its diffID when one is given.
    package static func apply(layerAt path: String, to root: String, options: LayerApplyOptions = .init(),
                              expectedDiffID: Digest? = nil, label: String? = nil) throws(ArchiveError) -> LayerApplySummary {
        let label = label ?? path
        let source = try DecompressingSource(source: try FileSource(path: path), label: label)
        let reader = try TarReader(source: source, label: label)
        let applier = try LayerApplier(root: root, options: options, label: label)
        try applier.run(reader)
        let diffID = try source.finish()
        if let expectedDiffID, expectedDiffID != diffID {
            throw ArchiveError(.digestMismatch, "uncompressed content is \(diffID), expected diffID \(expectedDiffID)", archive: label)
        }
        applier.summary.diffID = diffID
        return applier.summary
    }

    func run(_ reader: TarReader) throws(ArchiveError) {
        while let entry = try reader.next() {
            summary.entries += 1
            try apply(entry, from: reader)
        }
        try finishDirectories()
    }

    func fail(_ code: ArchiveError.Code, _ message: String, _ path: String, _ cause: SystemError? = nil) -> ArchiveError {
        ArchiveError(code, message, archive: label, entry: path, cause: cause)
    }

    /// Maps a resolution failure to a stable code.
    func resolutionError(_ error: SystemError, _ path: String) -> ArchiveError {
        switch error.code {
        case ELOOP: fail(.unresolvable, "has a symlink loop in its path", path, error)
        case ENOTDIR: fail(.unresolvable, "has a non-directory in its path", path, error)
        default: fail(.io, "cannot resolve its parent directory", path, error)
        }
    }

    func apply(_ entry: TarEntry, from reader: TarReader) throws(ArchiveError) {
        guard let components = RootedDirectory.components(of: entry.path) else {
            throw fail(.escapesRoot, "escapes the root", entry.path)
        }
        if options.whiteouts != .literal, let name = components.last, name.hasPrefix(Whiteout.prefix) {
            try applyWhiteout(name: name, in: Array(components.dropLast()), entry: entry)
            return
        }
        guard !components.isEmpty else {
            // The root itself (`./`): only its metadata can change.
            guard entry.kind == .directory else { throw fail(.unresolvable, "replaces the root with a non-directory", entry.path) }
            try setOwnerAndXattrs(entry, in: root.fd, ".", path: entry.path)
            directories.append(([], entry))
            return
        }
        let parent: OpenDirectory
        let name: String
        do { (parent, name) = try root.openParent(components, createMode: 0o755) } catch {
            throw resolutionError(error, entry.path)
        }
        let resolved = (parent.path + [name]).joined(separator: "/")
        let existing: FileStatus?
        do { existing = try FileStatus.at(parent.fd, name) } catch { throw fail(.io, "cannot inspect", entry.path, error) }
        if let existing, !(existing.kind == .directory && entry.kind == .directory) {
            if entry.kind == .hardlink, let target = entry.linkTarget, RootedDirectory.components(of: target) == components {
                return  // a hardlink to itself is already in place
            }
            do { try DirectoryEntries.removeTree(in: parent.fd, name) } catch {
                throw fail(.io, "cannot replace what is there", entry.path, error)
            }
        }
        switch entry.kind {
        case .directory:
            if existing?.kind != .directory {
                // Owner-writable while the layer fills it; the real mode is set at the end.
                guard mkdirat(parent.fd, name, 0o700) == 0 else { throw fail(.io, "cannot create the directory", entry.path, .errno("mkdir")) }
            }
            try setOwnerAndXattrs(entry, in: parent.fd, name, path: entry.path)
            directories.append((parent.path + [name], entry))
        case .regular:
            try writeFile(entry, in: parent.fd, name, from: reader)
        case .symlink:
            guard symlinkat(entry.linkTarget ?? "", parent.fd, name) == 0 else {
                throw fail(.io, "cannot create the symlink", entry.path, .errno("symlink"))
            }
            try setOwnerAndXattrs(entry, in: parent.fd, name, path: entry.path)
            try setTimes(entry, in: parent.fd, name, path: entry.path)
        case .hardlink:
            try link(entry, in: parent.fd, name)
        case .characterDevice, .blockDevice, .fifo:
            guard try makeNode(entry, in: parent.fd, name) else { return }
            try setOwnerAndXattrs(entry, in: parent.fd, name, path: entry.path)
            guard fchmodat(parent.fd, name, mode_t(entry.permissions), 0) == 0 else {
                throw fail(.io, "cannot set the mode", entry.path, .errno("chmod"))
            }
            try setTimes(entry, in: parent.fd, name, path: entry.path)
        }
        created.insert(resolved)
    }

    func writeFile(_ entry: TarEntry, in parent: Int32, _ name: String, from reader: TarReader) throws(ArchiveError) {
        // O_EXCL: a fresh inode always, never one shared with a lower layer or reached through a link.
        let fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw fail(.io, "cannot create the file", entry.path, .errno("open")) }
        defer { close(fd) }
        var written: Int64 = 0
        try reader.readContents { (chunk, offset) throws(ArchiveError) in
            var done = 0
            while done < chunk.count {
                let n = pwrite(fd, chunk.baseAddress! + done, chunk.count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw fail(.io, "cannot write the file", entry.path, .errno("write"))
                }
                done += n
            }
            written += Int64(chunk.count)
        }
        // Sparse files end in a hole the data blocks never reach.
        guard ftruncate(fd, off_t(entry.size)) == 0 else { throw fail(.io, "cannot size the file", entry.path, .errno("ftruncate")) }
        summary.bytes += written
        try setOwnerAndXattrs(entry, in: parent, name, path: entry.path)
        // After chown, which clears setuid/setgid.
        guard fchmod(fd, mode_t(entry.permissions)) == 0 else { throw fail(.io, "cannot set the mode", entry.path, .errno("chmod")) }
        var times = [entry.modificationTime.timespec, entry.modificationTime.timespec]
        guard futimens(fd, &times) == 0 else { throw fail(.io, "cannot set times", entry.path, .errno("futimens")) }
    }

    func link(_ entry: TarEntry, in parent: Int32, _ name: String) throws(ArchiveError) {
        guard let target = entry.linkTarget, let targetComponents = RootedDirectory.components(of: target) else {
            throw fail(.escapesRoot, "links to \"\(entry.linkTarget ?? "")\", which escapes the root", entry.path)
        }
        guard !targetComponents.isEmpty else { throw fail(.badHardlink, "links to the root", entry.path) }
        let targetParent: OpenDirectory
        let targetName: String
        do { (targetParent, targetName) = try root.openParent(targetComponents) } catch {
            throw fail(.badHardlink, "links to \"\(target)\", which is not in the root", entry.path, error)
        }
        let status: FileStatus?
        do { status = try FileStatus.at(targetParent.fd, targetName) } catch { throw fail(.io, "cannot inspect the link target", entry.path, error) }
        guard let status else { throw fail(.badHardlink, "links to \"\(target)\", which is not in the root", entry.path) }
        guard status.kind != .directory else { throw fail(.badHardlink, "links to the directory \"\(target)\"", entry.path) }
        // Flags 0: link the target itself, even when it is a symlink.
        guard linkat(targetParent.fd, targetName, parent, name, 0) == 0 else {
            throw fail(.io, "cannot link to \"\(target)\"", entry.path, .errno("link"))
        }
    }

    /// Makes a device or fifo; false when it was skipped.
    func makeNode(_ entry: TarEntry, in parent: Int32, _ name: String) throws(ArchiveError) -> Bool {
        let type: mode_t
        switch entry.kind {
        case .characterDevice: type = S_IFCHR
        case .blockDevice: type = S_IFBLK
        default: type = S_IFIFO
        }
        if type != S_IFIFO && options.devices == .ignore { return false }
        let dev = DeviceNumber.make(major: entry.deviceMajor, minor: entry.deviceMinor)
        guard mknodat(parent, name, type | 0o600, dev_t(dev)) == 0 else {
            let error = SystemError.errno("mknod")
            if type != S_IFIFO, options.devices == .bestEffort, error.code == EPERM || error.code == EACCES {
                summary.warn(.init(kind: .device, path: entry.path, message: "device \(entry.deviceMajor):\(entry.deviceMinor) skipped: mknod not permitted"))
                return false
            }
            throw fail(.io, "cannot create the node", entry.path, error)
        }
        return true
    }

    func setOwnerAndXattrs(_ entry: TarEntry, in parent: Int32, _ name: String, path: String) throws(ArchiveError) {
        if options.ownership != .ignore {
            var uid: UInt32? = entry.uid, gid: UInt32? = entry.gid
            if let map = options.idMap { (uid, gid) = (map.hostUID(entry.uid), map.hostGID(entry.gid)) }
            if let uid, let gid {
                if fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0 {
                    let error = SystemError.errno("lchown")
                    guard options.ownership == .bestEffort, [EPERM, EINVAL].contains(error.code) else {
                        throw fail(.io, "cannot set the owner to \(uid):\(gid)", path, error)
                    }
                    summary.warn(.init(kind: .ownership, path: path, message: "owner \(uid):\(gid) not set: \(error)"))
                }
            } else {
                guard options.ownership == .bestEffort else {
                    throw fail(.unsupported, "has owner \(entry.uid):\(entry.gid), outside the id map", path)
                }
                summary.warn(.init(kind: .ownership, path: path, message: "owner \(entry.uid):\(entry.gid) is outside the id map; left as is"))
            }
        }
        guard options.xattrs != .ignore else { return }
        for attribute in entry.xattrs.keys.sorted() {
            do {
                try ExtendedAttributes.set(at: parent, name, attribute: attribute, value: entry.xattrs[attribute]!)
            } catch where options.xattrs == .bestEffort && [EPERM, ENOTSUP, EACCES].contains(error.code) {
                summary.warn(.init(kind: .xattr, path: path, message: "xattr \(attribute) not set: \(error)"))
            } catch {
                throw fail(.io, "cannot set xattr \(attribute)", path, error)
            }
        }
    }

    func setTimes(_ entry: TarEntry, in parent: Int32, _ name: String, path: String) throws(ArchiveError) {
        var times = [entry.modificationTime.timespec, entry.modificationTime.timespec]
        guard utimensat(parent, name, &times, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw fail(.io, "cannot set times", path, .errno("utimensat"))
        }
    }

    /// Directory modes and times, deepest first, once nothing more is written inside them.
    func finishDirectories() throws(ArchiveError) {
        for (components, entry) in directories.reversed() {
            let parent: OpenDirectory
            let name: String
            do {
                if components.isEmpty {
                    (parent, name) = (try root.openDirectory([String]()), ".")
                } else {
                    (parent, name) = try root.openParent(components)
                }
            } catch { throw resolutionError(error, entry.path) }
            guard let status = try? FileStatus.at(parent.fd, name), status.kind == .directory else { continue }
            guard fchmodat(parent.fd, name, mode_t(entry.permissions), 0) == 0 else {
                throw fail(.io, "cannot set the mode", entry.path, .errno("chmod"))
            }
            try setTimes(entry, in: parent.fd, name, path: entry.path)
        }
    }
}
