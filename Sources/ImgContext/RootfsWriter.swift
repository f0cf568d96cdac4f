import Glibc
import ImgArchive
import ImgDockerfile
import ImgSystem

/// `AT_EMPTY_PATH`, which Swift's Glibc module leaves out (it needs `_GNU_SOURCE`): act on the descriptor.
let atEmptyPath: Int32 = 0x1000

/// An open directory with where it is: inside the rootfs (resolved components), or in the source tree.
final class DirectoryHandle {
    let fd: Int32
    let path: [String]

    init(fd: Int32, path: [String]) {
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    var display: String { "/" + SourcePath.join(path) }
    func display(_ name: String) -> String { "/" + SourcePath.join(path + [name]) }
}

/// Writes into a rootfs through descriptors resolved inside it; see `CopyOperation.copy`.
final class RootfsWriter {
    private struct FileID: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    private struct DeferredDirectory {
        var path: [String]
        var mode: UInt32
        var times: [timespec]
    }

    let rooted: RootedDirectory
    let chownOwner: FileOwner?
    let modeChange: ModeChange?
    let keepsOwnership: Bool
    /// Directories this copy created: mode and times are set once nothing more is written inside them.
    private var deferred: [DeferredDirectory] = []
    /// Where the first name of each multiply-linked source file went, so later names become hard links.
    private var linked: [FileID: [String]] = [:]

    init(rootfs: String, options: CopyOptions, keepsOwnership: Bool) throws(ContextError) {
        do { rooted = try RootedDirectory(path: rootfs) } catch {
            throw ContextError(.io, "cannot open the rootfs: \(error)")
        }
        chownOwner = try options.chown.map { (spec) throws(ContextError) in try FileOwner.resolve(spec, rootfs: rootfs) }
        modeChange = try options.chmod.map { (text) throws(ContextError) in try ModeChange(parsing: text) }
        self.keepsOwnership = keepsOwnership
    }

    // MARK: Roots

    func copy(_ root: CopySelection.Root, from tree: SourceTree, to destination: Destination, extractArchives: Bool) throws(ContextError) {
        let host = root.path.isEmpty ? tree.root : tree.root + "/" + root.path
        if root.kind == .directory {
            let source = try Self.openSource(host, display: root.path)
            let target: DirectoryHandle
            if let last = destination.components.last {
                let parent = try ensureDirectory(Array(destination.components.dropLast()))
                target = try childDirectory(parent, last, source: source, sourceName: nil)
            } else {
                target = try rootHandle()
            }
            try copyContents(root.contents, from: source, into: target)
            return
        }
        let slash = host.lastIndex(of: "/") ?? host.startIndex
        let parentHost = slash == host.startIndex ? "/" : String(host[..<slash])
        let sourceName = String(host[host.index(after: slash)...])
        let parentDisplay = SourcePath.join(SourcePath.components(root.path).dropLast())
        let source = try Self.openSource(parentHost, display: parentDisplay)
        if extractArchives && root.kind == .file && ArchiveProbe.isArchive(host) {
            try extract(host, name: root.name, into: destination)
            return
        }
        let (directory, name) = try fileTarget(name: root.name, destination)
        try writeNonDirectory(from: source, sourceName, into: directory, name)
    }

    func writeContent(_ bytes: [UInt8], name: String, to destination: Destination) throws(ContextError) {
        let (directory, target) = try fileTarget(name: name, destination)
        try removeForReplacement(directory, target)
        let fd = openat(directory.fd, target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Self.failure("cannot create", directory.display(target)) }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Self.failure("cannot write", directory.display(target))
            }
            offset += n
        }
        let owner = chownOwner ?? .root
        guard fchown(fd, owner.uid, owner.gid) == 0 else { throw Self.failure("cannot set the owner of", directory.display(target)) }
        let mode = modeChange?.apply(to: 0o644, isDirectory: false) ?? 0o644
        guard fchmod(fd, mode_t(mode)) == 0 else { throw Self.failure("cannot set the mode of", directory.display(target)) }
    }

    /// Where a non-directory root goes: inside a destination directory (named `/`-ended, or existing), else
    /// at the destination path itself.
    private func fileTarget(name: String, _ destination: Destination) throws(ContextError) -> (DirectoryHandle, String) {
        if destination.isDirectory { return (try ensureDirectory(destination.components), name) }
        if let existing = try? rooted.openDirectory(destination.components) {
            return (try Self.dup(existing), name)
        }
        let parent = try ensureDirectory(Array(destination.components.dropLast()))
        return (parent, destination.components[destination.components.count - 1])
    }

    /// Sets the modes and times of the directories this copy created, deepest first.
    func finish() throws(ContextError) {
        for directory in deferred.reversed() {
            guard let name = directory.path.last else { continue }
            let parent: OpenDirectory
            do { parent = try rooted.openDirectory(directory.path.dropLast()) } catch {
                throw ContextError(.io, "cannot reopen /\(SourcePath.join(directory.path)): \(error)")
            }
            let fd = openat(parent.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { throw Self.failure("cannot reopen", "/" + SourcePath.join(directory.path)) }
            defer { close(fd) }
            guard fchmod(fd, mode_t(directory.mode)) == 0,
                  directory.times.withUnsafeBufferPointer({ futimens(fd, $0.baseAddress) }) == 0
            else { throw Self.failure("cannot set the metadata of", "/" + SourcePath.join(directory.path)) }
        }
        deferred.removeAll()
    }

    // MARK: Trees

    /// Copies `entries` (parents before children, relative to `source`) into `target`.
    private func copyContents(_ entries: [CopySelection.Entry], from source: DirectoryHandle, into target: DirectoryHandle) throws(ContextError) {
        var stack: [(rel: String, source: DirectoryHandle, target: DirectoryHandle)] = [("", source, target)]
        for entry in entries {
            let slash = entry.path.lastIndex(of: "/")
            let parentRel = slash.map { String(entry.path[..<$0]) } ?? ""
            let name = slash.map { String(entry.path[entry.path.index(after: $0)...]) } ?? entry.path
            while stack.count > 1 && stack[stack.count - 1].rel != parentRel { stack.removeLast() }
            guard stack[stack.count - 1].rel == parentRel else {
                throw ContextError(.io, "selection lists \(entry.path) before its directory")
            }
            let (_, sourceDir, targetDir) = stack[stack.count - 1]
            if entry.kind == .directory {
                let sourceChild = openat(sourceDir.fd, name, OpenFlags.path | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard sourceChild >= 0 else { throw Self.failure("cannot open the source directory", entry.path) }
                let sourceHandle = DirectoryHandle(fd: sourceChild, path: sourceDir.path + [name])
                let targetChild = try childDirectory(targetDir, name, source: sourceDir, sourceName: name)
                stack.append((entry.path, sourceHandle, targetChild))
            } else {
                try writeNonDirectory(from: sourceDir, name, into: targetDir, name)
            }
        }
    }

    /// `mkdir -p` inside the rootfs: missing directories are made 0755, owned by the `--chown` owner or root;
    /// existing ones (symlinks to directories included, resolved inside the rootfs) are left as they are.
    func ensureDirectory(_ components: [String]) throws(ContextError) -> DirectoryHandle {
        var current = try rootHandle()
        for name in components {
            current = try childDirectory(current, name, source: nil, sourceName: nil)
        }
        return current
    }

    /// The directory `name` in `parent`. An existing directory is used as it is; a symlink there is followed
    /// inside the rootfs; anything else is an error. A missing one is created: with the metadata of
    /// `sourceName` in `source` when given (mode and times set at `finish`), else as a parent (0755).
    private func childDirectory(_ parent: DirectoryHandle, _ name: String, source: DirectoryHandle?,
                                sourceName: String?) throws(ContextError) -> DirectoryHandle {
        let existing = try Self.status(parent, name)
        switch existing?.kind {
        case .directory?:
            return try Self.openChild(parent, name)
        case .symlink?:
            // Followed inside the rootfs; a missing target is created there, as `mkdir -p` through the link.
            do { return try Self.dup(try rooted.openDirectory(parent.path + [name], createMode: 0o755)) } catch {
                throw ContextError(.invalidDestination, "cannot copy to non-directory: \(parent.display(name))")
            }
        case nil:
            guard mkdirat(parent.fd, name, 0o700) == 0 || errno == EEXIST else {
                throw Self.failure("cannot create the directory", parent.display(name))
            }
            let child = try Self.openChild(parent, name)
            if let source {
                var st = stat()
                guard fstatat(source.fd, sourceName ?? "", &st, sourceName == nil ? atEmptyPath : AT_SYMLINK_NOFOLLOW) == 0 else {
                    throw Self.failure("cannot stat the source of", parent.display(name))
                }
                let owner = owner(of: st)
                guard fchown(child.fd, owner.uid, owner.gid) == 0 else { throw Self.failure("cannot set the owner of", parent.display(name)) }
                if let sourceName { copyAttributes(from: source, sourceName, to: parent, name) }
                deferred.append(DeferredDirectory(path: child.path, mode: mode(of: st, isDirectory: true),
                                                  times: [st.st_atim, st.st_mtim]))
            } else {
                let owner = chownOwner ?? .root
                guard fchown(child.fd, owner.uid, owner.gid) == 0, fchmod(child.fd, 0o755) == 0 else {
                    throw Self.failure("cannot set the metadata of", parent.display(name))
                }
            }
            return child
        default:
            throw ContextError(.invalidDestination, "cannot copy to non-directory: \(parent.display(name))")
        }
    }

    /// Writes a file, symlink or special file `sourceName` of `source` as `name` in `directory`, replacing
    /// what is there unless it is a directory.
    private func writeNonDirectory(from source: DirectoryHandle, _ sourceName: String, into directory: DirectoryHandle,
                                   _ name: String) throws(ContextError) {
        var st = stat()
        guard fstatat(source.fd, sourceName, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw Self.failure("cannot stat", source.display(sourceName))
        }
        let display = directory.display(name)
        let owner = owner(of: st)
        let times = [st.st_atim, st.st_mtim]
        let type = st.st_mode & S_IFMT
        // A regular file is created first and what was there removed only when that fails: into a fresh
        // directory (most of a big COPY) that saves a lookup per file, which through overlayfs is not cheap.
        if type != S_IFREG { try removeForReplacement(directory, name) }
        switch type {
        case S_IFREG:
            let id = FileID(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
            if st.st_nlink > 1, let first = linked[id] {
                try removeForReplacement(directory, name)
                if try link(first, to: directory, name) { return }
            }
            let input = openat(source.fd, sourceName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard input >= 0 else { throw Self.failure("cannot read", source.display(sourceName)) }
            defer { close(input) }
            let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
            var output = openat(directory.fd, name, flags, 0o600)
            if output < 0 && errno == EEXIST {
                try removeForReplacement(directory, name)
                output = openat(directory.fd, name, flags, 0o600)
            }
            guard output >= 0 else { throw Self.failure("cannot create", display) }
            defer { close(output) }
            try Self.copyData(from: input, to: output, display: display)
            // Owner before mode: chown clears setuid and setgid. Attributes after both: it also drops
            // security.capability.
            guard fchown(output, owner.uid, owner.gid) == 0 else { throw Self.failure("cannot set the owner of", display) }
            guard fchmod(output, mode_t(mode(of: st, isDirectory: false))) == 0 else { throw Self.failure("cannot set the mode of", display) }
            if let attributes = try? ExtendedAttributes.all(fd: input) {
                for (attribute, value) in attributes { try? ExtendedAttributes.set(fd: output, attribute: attribute, value: value) }
            }
            guard times.withUnsafeBufferPointer({ futimens(output, $0.baseAddress) }) == 0 else {
                throw Self.failure("cannot set the times of", display)
            }
            if st.st_nlink > 1 { linked[id] = directory.path + [name] }
        case S_IFLNK:
            guard let target = RootedDirectory.readLink(source.fd, sourceName) else {
                throw Self.failure("cannot read the symlink", source.display(sourceName))
            }
            guard symlinkat(target, directory.fd, name) == 0 else { throw Self.failure("cannot create the symlink", display) }
            guard fchownat(directory.fd, name, owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) == 0,
                  times.withUnsafeBufferPointer({ utimensat(directory.fd, name, $0.baseAddress, AT_SYMLINK_NOFOLLOW) }) == 0
            else { throw Self.failure("cannot set the metadata of", display) }
        case S_IFIFO, S_IFCHR, S_IFBLK:
            guard mknodat(directory.fd, name, (st.st_mode & S_IFMT) | 0o600, st.st_rdev) == 0 else {
                throw Self.failure("cannot create the special file", display)
            }
            // The node was just made by us, so following the name cannot lead to another file.
            guard fchownat(directory.fd, name, owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) == 0,
                  fchmodat(directory.fd, name, mode_t(mode(of: st, isDirectory: false)), 0) == 0,
                  times.withUnsafeBufferPointer({ utimensat(directory.fd, name, $0.baseAddress, AT_SYMLINK_NOFOLLOW) }) == 0
            else { throw Self.failure("cannot set the metadata of", display) }
        default:
            break  // sockets are not copied
        }
    }

    /// Makes `name` in `directory` a hard link to an earlier name of the same source file; false when that
    /// earlier copy is no longer there to link to.
    private func link(_ first: [String], to directory: DirectoryHandle, _ name: String) throws(ContextError) -> Bool {
        guard let firstName = first.last, let parent = try? rooted.openDirectory(first.dropLast()) else { return false }
        return linkat(parent.fd, firstName, directory.fd, name, 0) == 0
    }

    /// Clears the way for a non-directory: a directory there is an error, anything else is removed (a
    /// symlink is replaced, never written through).
    private func removeForReplacement(_ directory: DirectoryHandle, _ name: String) throws(ContextError) {
        guard let existing = try Self.status(directory, name) else { return }
        if existing.kind == .directory {
            throw ContextError(.invalidDestination, "cannot replace directory \(directory.display(name)) with a file")
        }
        guard unlinkat(directory.fd, name, 0) == 0 else { throw Self.failure("cannot replace", directory.display(name)) }
    }

    // MARK: ADD archives

    /// Extracts a local archive into the destination directory (created when missing), as `tar -x` would:
    /// merged with what is there, owners from the archive unless `--chown`.
    private func extract(_ archive: String, name: String, into destination: Destination) throws(ContextError) {
        let directory = try ensureDirectory(destination.components)
        // The applier resolves every name inside the root it is given; pinning that root to the descriptor
        // keeps it the directory resolved above whatever happens to the path.
        let root = "/proc/self/fd/\(directory.fd)"
        do {
            _ = try TreeArchive.extract(from: archive, into: root, options: LayerApplyOptions(whiteouts: .literal))
        } catch {
            throw ContextError(.io, "cannot extract \(name): \(error)")
        }
        if let chownOwner { try ArchiveProbe.chownEntries(of: archive, in: root, to: chownOwner) }
    }

    // MARK: Helpers

    private func owner(of st: stat) -> FileOwner {
        chownOwner ?? (keepsOwnership ? FileOwner(uid: st.st_uid, gid: st.st_gid) : .root)
    }

    private func mode(of st: stat, isDirectory: Bool) -> UInt32 {
        let current = UInt32(st.st_mode & 0o7777)
        return modeChange?.apply(to: current, isDirectory: isDirectory) ?? current
    }

    /// Extended attributes (file capabilities, ACLs) are copied as BuildKit does, best effort: a file
    /// system or namespace that refuses one does not fail the copy.
    private func copyAttributes(from source: DirectoryHandle, _ sourceName: String, to directory: DirectoryHandle, _ name: String) {
        guard let attributes = try? ExtendedAttributes.all(at: source.fd, sourceName), !attributes.isEmpty else { return }
        for (attribute, value) in attributes {
            try? ExtendedAttributes.set(at: directory.fd, name, attribute: attribute, value: value)
        }
    }

    private func rootHandle() throws(ContextError) -> DirectoryHandle {
        let fd = fcntl(rooted.fd, F_DUPFD_CLOEXEC, 0)
        guard fd >= 0 else { throw Self.failure("cannot open", "/") }
        return DirectoryHandle(fd: fd, path: [])
    }

    private static func dup(_ directory: OpenDirectory) throws(ContextError) -> DirectoryHandle {
        let fd = fcntl(directory.fd, F_DUPFD_CLOEXEC, 0)
        guard fd >= 0 else { throw failure("cannot open", "/" + SourcePath.join(directory.path)) }
        return DirectoryHandle(fd: fd, path: directory.path)
    }

    private static func openChild(_ parent: DirectoryHandle, _ name: String) throws(ContextError) -> DirectoryHandle {
        let fd = openat(parent.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open the directory", parent.display(name)) }
        return DirectoryHandle(fd: fd, path: parent.path + [name])
    }

    static func openSource(_ host: String, display: String) throws(ContextError) -> DirectoryHandle {
        let fd = open(host, OpenFlags.path | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open the source", display.isEmpty ? "." : display) }
        return DirectoryHandle(fd: fd, path: SourcePath.components(display))
    }

    private static func status(_ directory: DirectoryHandle, _ name: String) throws(ContextError) -> FileStatus? {
        do { return try FileStatus.at(directory.fd, name) } catch {
            throw ContextError(.io, "cannot inspect \(directory.display(name)): \(error)")
        }
    }

    private static func copyData(from input: Int32, to output: Int32, display: String) throws(ContextError) {
        // In the kernel where it can (reflink, copy_file_range, sendfile): no buffer per file, no user copy.
        var st = stat()
        guard fstat(input, &st) == 0 else { throw failure("cannot read the source of", display) }
        do {
            try FileCopy.data(from: input, to: output, size: Int64(st.st_size))
        } catch {
            if error.isDiskFull { throw ContextError(.io, "no space left on device writing \(display)") }
            throw ContextError(.io, "cannot copy \(display): \(error)")
        }
    }

    static func failure(_ what: String, _ path: String) -> ContextError {
        ContextError(.io, "\(what) \(path): \(String(cString: strerror(errno)))")
    }
}

/// ADD's archive handling.
enum ArchiveProbe {
    /// Whether the file is a tar archive, plain or compressed, judged by content as BuildKit does: it must
    /// decompress and yield a first tar header (an empty file is not an archive).
    static func isArchive(_ path: String) -> Bool {
        do {
            let reader = try TarReader(source: try DecompressingSource(source: try FileSource(path: path), label: path), label: path)
            return try reader.next() != nil
        } catch {
            return false
        }
    }

    /// `--chown` for an extracted archive: every entry's owner set, its mode restored (chown clears setuid).
    static func chownEntries(of archive: String, in root: String, to owner: FileOwner) throws(ContextError) {
        let rooted: RootedDirectory
        let reader: TarReader
        do {
            rooted = try RootedDirectory(path: root)
            reader = try TarReader(source: try DecompressingSource(source: try FileSource(path: archive), label: archive), label: archive)
        } catch {
            throw ContextError(.io, "cannot reread \(archive): \(error)")
        }
        while true {
            let entry: TarEntry?
            do { entry = try reader.next() } catch { throw ContextError(.io, "cannot reread \(archive): \(error)") }
            guard let entry else { return }
            guard let components = RootedDirectory.components(of: entry.path) else { continue }
            if components.isEmpty {
                _ = fchownat(rooted.fd, "", owner.uid, owner.gid, atEmptyPath)
                continue
            }
            guard let (parent, name) = try? rooted.openParent(components),
                  let status = try? FileStatus.at(parent.fd, name) else { continue }
            guard fchownat(parent.fd, name, owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw RootfsWriter.failure("cannot set the owner of", entry.path)
            }
            if status.kind != .symlink {
                _ = fchmodat(parent.fd, name, mode_t(status.permissions), 0)
            }
        }
    }
}
