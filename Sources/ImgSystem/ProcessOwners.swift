import Glibc
import Synchronization

/// Which img process owns a temporary file or directory under a state directory, and whether that process
/// is still alive, across processes and PID namespaces.
///
/// Every process has a random `token`, which the names of its temporary entries carry
/// (`tmp/build-<token>-…`, `runtime/bundles/step-<token>-…`, `snapshots/tmp/ws-<token>-…`). While it runs it
/// holds `<state>/owners/<token>` locked exclusively (`flock`, released by the kernel however the process
/// ends). A record nobody holds belongs to a dead process: its entries are leftovers. Process ids would not
/// do: img runs in a PID namespace of its own (pid 2 in each), and pids are reused.
package enum ProcessOwners {
    /// This process's token: 16 hex digits, never `-`, so it can sit between dashes in a name.
    package static let token: String = {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }()

    /// Records held by this process, by owners directory: the descriptors holding the locks.
    private static let held = Mutex<[String: Int32]>([:])

    /// Holds this process's record in `directory` (created if missing) from now until the process ends.
    /// Idempotent; cheap after the first call for a directory.
    package static func register(in directory: String) throws(SystemError) {
        try held.withLock { (records: inout [String: Int32]) throws(SystemError) in
            if records[directory] != nil { return }
            if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw SystemError.errno("create \(directory)") }
            let path = directory + "/" + token
            while true {
                let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw SystemError.errno("open \(path)") }
                while flock(fd, LOCK_EX) != 0 {
                    guard errno == EINTR else {
                        let error = SystemError.errno("lock \(path)")
                        close(fd)
                        throw error
                    }
                }
                // A sweeper that took the fresh, not yet locked, record for a dead one may have unlinked it:
                // then lock a new one.
                var mine = stat(), current = stat()
                if fstat(fd, &mine) == 0, stat(path, &current) == 0, mine.st_ino == current.st_ino,
                   mine.st_dev == current.st_dev {
                    records[directory] = fd
                    return
                }
                close(fd)
            }
        }
    }

    /// The token in an entry name `<kind>-<token>-<rest>`, or nil for names of another form.
    package static func token(inName name: String) -> Substring? {
        let parts = name.split(separator: "-", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1].utf8.count == 16, parts[1].utf8.allSatisfy(isLowercaseHex) else { return nil }
        return parts[1]
    }

    private static func isLowercaseHex(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
    }

    /// The records in `directory` whose process has ended, each locked by this process until `release`.
    /// A process that is alive holds its record, so it is never among them.
    package static func dead(in directory: String) -> [DeadOwner] {
        guard let names = try? DirectoryEntries.names(in: AT_FDCWD, directory) else { return [] }
        var result: [DeadOwner] = []
        for name in names where name != token && name.utf8.count == 16 {
            let fd = open(directory + "/" + name, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { continue }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                result.append(DeadOwner(token: name, path: directory + "/" + name, fd: fd))
            } else {
                close(fd)
            }
        }
        return result
    }

    /// Whether the owner of the entry `name` (`<kind>-<token>-<rest>`) is certainly gone: its token is one of
    /// `dead`. Entries of live processes, and names without a token, are not.
    package static func isLeftover(_ name: String, of dead: Set<String>) -> Bool {
        guard let owner = token(inName: name) else { return false }
        return dead.contains(String(owner))
    }
}

/// The record of an ended process, locked by the sweeper that found it.
package final class DeadOwner: Sendable {
    package let token: String
    let path: String
    let fd: Int32

    init(token: String, path: String, fd: Int32) {
        self.token = token
        self.path = path
        self.fd = fd
    }

    /// Drops the lock; with `forget`, removes the record first (all its leftovers are gone).
    package func release(forget: Bool) {
        if forget { unlink(path) }
        close(fd)
    }
}
