package import Glibc

/// A directory that paths are resolved inside of, as if it were `/` of a chroot: `..` stops at the root,
/// absolute symlink targets restart at the root, and every step is an `openat` with `O_NOFOLLOW`, so no
/// symlink (placed by a layer or already there) can lead a write outside. Only the final component of a
/// path is left unresolved; callers act on it with `*at` calls relative to the returned parent.
package final class RootedDirectory {
    package let path: String
    /// An `O_PATH` descriptor of the root.
    package let fd: Int32

    /// Symlinks followed while resolving one path before giving up with `ELOOP`, as the kernel does.
    package static let maxSymlinks = 40

    package init(path: String) throws(SystemError) {
        self.path = path
        fd = open(path, OpenFlags.path | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError.errno("open \(path)") }
    }

    deinit { close(fd) }

    /// The components of a path taken relative to the root, cleaned lexically (`.` and empty parts dropped,
    /// `a/..` folded). Nil when a `..` would climb above the root: such a name is hostile, not a path.
    package static func components(of path: String) -> [String]? {
        var result: [String] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..":
                if result.isEmpty { return nil }
                result.removeLast()
            default: result.append(String(part))
            }
        }
        return result
    }

    /// Opens the directory reached by `components` (all resolved, symlinks followed inside the root).
    /// With `createMode`, missing directories are made with that mode on the way.
    package func openDirectory(_ components: some Collection<String>, createMode: mode_t? = nil) throws(SystemError) -> OpenDirectory {
        var pending = Array(components.reversed())
        var stack: [Int32] = []
        var links = 0
        var walked: [String] = []
        func closeAll() { for f in stack { close(f) }; stack.removeAll() }
        while let part = pending.popLast() {
            let top = stack.last ?? fd
            if part.isEmpty || part == "." { continue }
            if part == ".." {
                if let f = stack.popLast() { close(f) }
                if !walked.isEmpty { walked.removeLast() }
                continue
            }
            var st = stat()
            if fstatat(top, part, &st, AT_SYMLINK_NOFOLLOW) != 0 {
                guard errno == ENOENT, let createMode else {
                    let error = SystemError.errno("resolve /\((walked + [part]).joined(separator: "/"))")
                    closeAll()
                    throw error
                }
                if mkdirat(top, part, createMode) != 0 && errno != EEXIST {
                    let error = SystemError.errno("mkdir /\((walked + [part]).joined(separator: "/"))")
                    closeAll()
                    throw error
                }
                pending.append(part)  // look again: whatever is there now is what we walk through
                continue
            }
            switch st.st_mode & S_IFMT {
            case S_IFLNK:
                links += 1
                guard links <= Self.maxSymlinks, let target = Self.readLink(top, part) else {
                    let code = links > Self.maxSymlinks ? ELOOP : errno
                    closeAll()
                    throw SystemError(operation: "resolve /\((walked + [part]).joined(separator: "/"))", code: code)
                }
                if target.hasPrefix("/") {
                    closeAll()
                    walked.removeAll()
                }
                pending.append(contentsOf: target.split(separator: "/").map(String.init).reversed())
            case S_IFDIR:
                let next = openat(top, part, OpenFlags.path | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard next >= 0 else {
                    let error = SystemError.errno("open /\((walked + [part]).joined(separator: "/"))")
                    closeAll()
                    throw error
                }
                stack.append(next)
                walked.append(part)
            default:
                closeAll()
                throw SystemError(operation: "resolve /\((walked + [part]).joined(separator: "/"))", code: ENOTDIR)
            }
        }
        if let last = stack.popLast() {
            closeAll()
            return OpenDirectory(fd: last, path: walked)
        }
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { throw SystemError.errno("dup \(path)") }
        return OpenDirectory(fd: copy, path: [])
    }

    /// The parent directory of `components` (resolved as `openDirectory`) and the final name, unresolved.
    /// `components` must not be empty.
    package func openParent(_ components: [String], createMode: mode_t? = nil) throws(SystemError) -> (OpenDirectory, String) {
        precondition(!components.isEmpty, "the root has no parent")
        return (try openDirectory(components.dropLast(), createMode: createMode), components[components.count - 1])
    }

    /// The target of the symlink `name` in `directory`, or nil (errno set) when it cannot be read.
    package static func readLink(_ directory: Int32, _ name: String) -> String? {
        var capacity = 256
        while true {
            var buffer = [UInt8](repeating: 0, count: capacity)
            let n = buffer.withUnsafeMutableBufferPointer { b in
                b.withMemoryRebound(to: CChar.self) { readlinkat(directory, name, $0.baseAddress!, capacity) }
            }
            if n < 0 { return nil }
            if n < capacity { return String(decoding: buffer[0..<n], as: UTF8.self) }
            capacity *= 4
        }
    }
}

/// An open directory inside a `RootedDirectory`; closed when dropped.
package final class OpenDirectory {
    package let fd: Int32
    /// Where it was found, as components from the root after symlinks were followed.
    package let path: [String]
    init(fd: Int32, path: [String]) {
        self.fd = fd
        self.path = path
    }
    deinit { close(fd) }
}
