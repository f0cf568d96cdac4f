import Glibc

/// An advisory whole-file lock (`flock`), held across processes: two `img` processes on one state directory
/// serialise their writes through it. Released on `unlock()` or when the value is dropped.
package final class FileLock {
    private var fd: Int32

    /// Opens (creating if needed) `path` and takes the lock, blocking until it is free.
    package init(path: String, exclusive: Bool = true) throws(SystemError) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SystemError.errno("open \(path)") }
        while flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0 {
            if errno == EINTR { continue }
            let error = SystemError.errno("lock \(path)")
            close(fd)
            throw error
        }
    }

    package func unlock() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { unlock() }
}
