import Glibc
import ImgSystem

/// Copies a directory tree with everything a layer can carry: owners, modes (setuid too), times, xattrs,
/// symlinks, devices and fifos, and hardlinks kept as links. File data is reflinked where the file system
/// can, else copied in the kernel (`FileCopy`). Nothing is followed: symlinks are copied as links.
package struct TreeCopy {
    struct InodeKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    /// The first copy of each multiply-linked inode, as (destination directory fd path, name).
    private var linked: [InodeKey: (Int32, String)] = [:]
    private var openDirectories: [Int32] = []
    /// Attributes that cannot be copied here (trusted.* unprivileged) are skipped, not fatal.
    private(set) var skippedAttributes = 0

    /// Copies the contents and attributes of directory `source` into the existing empty directory
    /// `destination`.
    package static func copy(from source: String, to destination: String) throws(SnapshotError) {
        let s = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard s >= 0 else { throw SnapshotError(.io, "cannot open \(source)", cause: SystemError.errno("open")) }
        defer { close(s) }
        let d = open(destination, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard d >= 0 else { throw SnapshotError(.io, "cannot open \(destination)", cause: SystemError.errno("open")) }
        defer { close(d) }
        var copier = TreeCopy()
        defer { for fd in copier.openDirectories { close(fd) } }
        do {
            try copier.directory(s, d, path: "")
            // The root's own attributes, last (its mode may forbid writing into it).
            guard let status = try FileStatus.at(s, ".") else { throw SystemError.errno("lstat \(source)") }
            try copier.attributes(status, from: s, ".", to: d, ".", isDirectory: true)
        } catch {
            throw SnapshotError(.io, "cannot copy \(source) to \(destination)", cause: error)
        }
    }

    private mutating func directory(_ source: Int32, _ destination: Int32, path: String) throws(SystemError) {
        for name in try DirectoryEntries.names(in: source) {
            let childPath = path.isEmpty ? name : path + "/" + name
            guard let status = try FileStatus.at(source, name) else { continue }
            switch status.kind {
            case .directory:
                guard mkdirat(destination, name, 0o700) == 0 else { throw SystemError.errno("mkdir \(childPath)") }
                let s = openat(source, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard s >= 0 else { throw SystemError.errno("open \(childPath)") }
                defer { close(s) }
                let d = openat(destination, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard d >= 0 else { throw SystemError.errno("open copy of \(childPath)") }
                defer { close(d) }
                try directory(s, d, path: childPath)
                try attributes(status, from: source, name, to: destination, name, isDirectory: true)
            case .regular:
                let key = InodeKey(device: status.device, inode: status.inode)
                if status.linkCount > 1, let (firstDirectory, firstName) = linked[key] {
                    guard linkat(firstDirectory, firstName, destination, name, 0) == 0 else { throw SystemError.errno("link \(childPath)") }
                    continue
                }
                try file(status, source, destination, name, childPath)
                if status.linkCount > 1 {
                    // Keep the directory open for later links to this inode.
                    let keep = fcntl(destination, F_DUPFD_CLOEXEC, 0)
                    guard keep >= 0 else { throw SystemError.errno("dup") }
                    openDirectories.append(keep)
                    linked[key] = (keep, name)
                }
            case .symlink:
                guard let target = RootedDirectory.readLink(source, name) else { throw SystemError.errno("readlink \(childPath)") }
                guard symlinkat(target, destination, name) == 0 else { throw SystemError.errno("symlink \(childPath)") }
                try attributes(status, from: source, name, to: destination, name, isDirectory: false)
            case .characterDevice, .blockDevice, .fifo:
                let type: mode_t = status.kind == .fifo ? S_IFIFO : status.kind == .characterDevice ? S_IFCHR : S_IFBLK
                let device = DeviceNumber.make(major: status.deviceMajor, minor: status.deviceMinor)
                guard mknodat(destination, name, type | 0o600, dev_t(device)) == 0 else { throw SystemError.errno("mknod \(childPath)") }
                try attributes(status, from: source, name, to: destination, name, isDirectory: false)
            case .socket:
                continue
            }
        }
    }

    private mutating func file(_ status: FileStatus, _ source: Int32, _ destination: Int32, _ name: String, _ path: String) throws(SystemError) {
        let s = openat(source, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard s >= 0 else { throw SystemError.errno("open \(path)") }
        defer { close(s) }
        let d = openat(destination, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard d >= 0 else { throw SystemError.errno("create \(path)") }
        defer { close(d) }
        try FileCopy.data(from: s, to: d, size: status.size)
        try attributes(status, from: source, name, to: destination, name, isDirectory: false)
    }

    /// Owner, then xattrs, then mode (chown clears setuid), then times.
    private mutating func attributes(_ status: FileStatus, from source: Int32, _ sourceName: String, to destination: Int32,
                                     _ name: String, isDirectory: Bool) throws(SystemError) {
        // Not permitted only for an ordinary user outside img's namespace: the copy is then theirs.
        guard fchownat(destination, name, status.uid, status.gid, AT_SYMLINK_NOFOLLOW) == 0 || errno == EPERM || errno == EINVAL else {
            throw SystemError.errno("chown \(name)")
        }
        for (attribute, value) in try ExtendedAttributes.all(at: source, sourceName) {
            do { try ExtendedAttributes.set(at: destination, name, attribute: attribute, value: value) } catch where [EPERM, ENOTSUP, EACCES].contains(error.code) {
                skippedAttributes += 1
            }
        }
        if status.kind != .symlink {
            guard fchmodat(destination, name, mode_t(status.permissions), 0) == 0 else { throw SystemError.errno("chmod \(name)") }
        }
        var times = [status.modificationTime.timespec, status.modificationTime.timespec]
        guard utimensat(destination, name, &times, AT_SYMLINK_NOFOLLOW) == 0 else { throw SystemError.errno("utimensat \(name)") }
    }
}
