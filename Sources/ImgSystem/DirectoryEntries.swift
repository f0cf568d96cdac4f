import Glibc

/// Listing and removing directory contents relative to an open directory, never following symlinks.
package enum DirectoryEntries {
    /// The names in directory `name` of `parent` (or in `parent` itself when `name` is nil), sorted by
    /// their UTF-8 bytes, without `.` and `..`.
    package static func names(in parent: Int32, _ name: String? = nil) throws(SystemError) -> [String] {
        let fd = openat(parent, name ?? ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError.errno("open directory \(name ?? ".")") }
        return try names(consuming: fd, describing: name ?? ".")
    }

    /// Lists an open directory descriptor and closes it.
    package static func names(consuming fd: Int32, describing what: String) throws(SystemError) -> [String] {
        guard let dir = fdopendir(fd) else {
            let error = SystemError.errno("opendir \(what)")
            close(fd)
            throw error
        }
        defer { closedir(dir) }
        var result: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw SystemError.errno("readdir \(what)") }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { result.append(name) }
        }
        return result.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Removes `name` in `parent` and, for a directory, all it holds (`rm -rf`), without following any
    /// symlink. Nothing there is not an error.
    package static func removeTree(in parent: Int32, _ name: String) throws(SystemError) {
        var st = stat()
        guard fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return }
            throw SystemError.errno("lstat \(name)")
        }
        guard st.st_mode & S_IFMT == S_IFDIR else {
            guard unlinkat(parent, name, 0) == 0 || errno == ENOENT else { throw SystemError.errno("unlink \(name)") }
            return
        }
        try removeContents(in: parent, name)
        guard unlinkat(parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT else { throw SystemError.errno("rmdir \(name)") }
    }

    /// Empties directory `name` in `parent`, keeping the directory itself; `keep` says which children
    /// (by name) stay.
    package static func removeContents(in parent: Int32, _ name: String, keep: (String) -> Bool = { _ in false }) throws(SystemError) {
        // A directory we may not write or search (mode 0555 from a layer) is opened up first; it is going away.
        var st = stat()
        if fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0, st.st_mode & 0o700 != 0o700 {
            _ = fchmodat(parent, name, (st.st_mode & 0o7777) | 0o700, 0)
        }
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError.errno("open directory \(name)") }
        defer { close(fd) }
        let listFD = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard listFD >= 0 else { throw SystemError.errno("dup \(name)") }
        for child in try names(consuming: listFD, describing: name) where !keep(child) {
            try removeTree(in: fd, child)
        }
    }

    /// The disk space (allocated blocks) of `path` and, for a directory, everything below it; symlinks are
    /// not followed, unreadable parts count as nothing.
    package static func allocatedBytes(_ path: String) -> Int64 {
        var st = stat()
        guard lstat(path, &st) == 0 else { return 0 }
        var total = Int64(st.st_blocks) * 512
        guard st.st_mode & S_IFMT == S_IFDIR else { return total }
        func walk(_ fd: Int32) {
            let listFD = fcntl(fd, F_DUPFD_CLOEXEC, 0)
            guard listFD >= 0, let children = try? names(consuming: listFD, describing: path) else { return }
            for child in children {
                var cst = stat()
                guard fstatat(fd, child, &cst, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
                total += Int64(cst.st_blocks) * 512
                if cst.st_mode & S_IFMT == S_IFDIR {
                    let sub = openat(fd, child, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    guard sub >= 0 else { continue }
                    walk(sub)
                    close(sub)
                }
            }
        }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return total }
        walk(fd)
        close(fd)
        return total
    }
}
