import Glibc

/// The outcome of a non-blocking attempt to lock a file by path.
package enum LockAttempt: Sendable {
    /// Locked; the file stays locked until `unlock()` or until the value is dropped.
    case locked(SystemFile)
    /// Another open file description holds a conflicting lock (this or another process).
    case busy
    /// The path does not exist and creating it was not asked for.
    case missing
}

extension SystemFile {
    /// `flock` without blocking. flock locks belong to the open file description, so two opens of one
    /// path conflict even inside one process, which is what lets tests model processes with instances.
    package func tryLock(exclusive: Bool) throws(SystemError) -> Bool {
        while flock(descriptor, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
            switch errno {
            case EINTR: continue
            case EWOULDBLOCK: return false
            default: throw SystemError.errno("lock \(path)")
            }
        }
        return true
    }

    package func unlock() {
        flock(descriptor, LOCK_UN)
    }

    /// Opens `path` and locks it without blocking. Because lock holders may unlink or rename the path
    /// while others wait, a lock taken on an inode that is no longer at `path` is dropped and the attempt
    /// repeated, so a `.locked` result always holds the file currently named `path`.
    package static func tryLocking(path: String, flags: Int32, permissions: UInt32 = 0o644,
                                   exclusive: Bool) throws(SystemError) -> LockAttempt {
        while true {
            let file: SystemFile
            do throws(SystemError) { file = try SystemFile(path: path, flags: flags, permissions: permissions) } catch {
                if error.code == ENOENT, flags & O_CREAT == 0 { return .missing }
                throw error
            }
            guard try file.tryLock(exclusive: exclusive) else { return .busy }
            let held = try file.status()
            guard let current = try FileSystem.status(path: path) else {
                if flags & O_CREAT == 0 { return .missing }
                continue
            }
            if held.isSameFile(as: current) { return .locked(file) }
        }
    }
}
