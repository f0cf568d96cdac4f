import Glibc

/// Path-level syscalls with errors that name the path. ENOENT is an answer, not an error, where callers
/// routinely race with other processes (status, remove).
package enum FileSystem {
    /// `stat(2)`, or nil when nothing is at `path`.
    package static func status(path: String) throws(SystemError) -> FileStatus? {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw SystemError.errno("stat \(path)")
        }
        return FileStatus(st)
    }

    /// `mkdir -p`.
    package static func createDirectory(path: String, permissions: UInt32 = 0o755) throws(SystemError) {
        if let st = try status(path: path) {
            if st.isDirectory { return }
            throw SystemError(operation: "mkdir \(path)", code: EEXIST)
        }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try createDirectory(path: String(path[..<slash]), permissions: permissions)
        }
        guard mkdir(path, mode_t(permissions)) == 0 || errno == EEXIST else { throw SystemError.errno("mkdir \(path)") }
    }

    /// `rename(2)`: atomic replacement within one filesystem.
    package static func rename(_ source: String, to destination: String) throws(SystemError) {
        guard Glibc.rename(source, destination) == 0 else { throw SystemError.errno("rename \(source) to \(destination)") }
    }

    /// `unlink(2)`; returns false when there was nothing to remove.
    @discardableResult
    package static func removeFile(path: String) throws(SystemError) -> Bool {
        guard unlink(path) == 0 else {
            if errno == ENOENT { return false }
            throw SystemError.errno("unlink \(path)")
        }
        return true
    }

    /// Removes `path` and everything under it; missing is fine.
    package static func removeTree(path: String) throws(SystemError) {
        guard let st = try status(path: path) else { return }
        if st.isDirectory {
            for name in try contentsOfDirectory(path: path) { try removeTree(path: path + "/" + name) }
            guard rmdir(path) == 0 || errno == ENOENT else { throw SystemError.errno("rmdir \(path)") }
        } else {
            try removeFile(path: path)
        }
    }

    /// Names in a directory, without `.` and `..`; empty when the directory does not exist.
    package static func contentsOfDirectory(path: String) throws(SystemError) -> [String] {
        guard let dir = opendir(path) else {
            if errno == ENOENT { return [] }
            throw SystemError.errno("opendir \(path)")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    /// fsyncs a directory so that renames and unlinks in it survive a crash.
    package static func syncDirectory(path: String) throws(SystemError) {
        let dir = try SystemFile(path: path, flags: O_RDONLY | O_DIRECTORY)
        try dir.sync()
    }

    /// Sets a file's modification (and access) time, seconds since the epoch.
    package static func setModificationTime(path: String, _ seconds: Double) throws(SystemError) {
        let whole = seconds.rounded(.down)
        let spec = timespec(tv_sec: Int(whole), tv_nsec: Int((seconds - whole) * 1e9))
        let times = [spec, spec]
        guard utimensat(AT_FDCWD, path, times, 0) == 0 else { throw SystemError.errno("utimensat \(path)") }
    }
}
