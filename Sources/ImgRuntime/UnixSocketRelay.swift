import Foundation
import Glibc

/// A new Unix socket whose every connection is relayed to an existing one. This is how an ssh agent reaches
/// a `RUN --mount=type=ssh` container: the container gets a socket with the owner and mode the mount asks
/// for (the agent's own socket usually belongs to someone else, mode 0600), and the socket is gone when the
/// step ends. One thread polls the listener and every open pair; agent messages are small.
package final class UnixSocketRelay: Sendable {
    /// The socket to mount into the container.
    package let path: String
    private let directory: String
    /// Writing a byte here stops the relay thread.
    private let stopWrite: Int32
    private let finished: DispatchSemaphore

    /// Listens on a socket in a new private directory (Unix socket paths must be short, so not in a deep
    /// state directory), owned by `uid:gid` with `mode`, relaying to `target`.
    package init(target: String, uid: UInt32, gid: UInt32, mode: UInt32,
                 temporaryDirectory: String? = nil) throws(RuntimeError) {
        directory = try Self.makeSocketDirectory(prefix: "img-ssh", in: temporaryDirectory)
        // Traversable by the container's user, who may not be the directory's owner.
        chmod(directory, 0o711)
        path = directory + "/agent.sock"

        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else {
            rmdir(directory)
            throw RuntimeError(.system, "cannot create a socket: \(String(cString: strerror(errno)))")
        }
        var pipeFDs: [Int32] = [-1, -1]
        guard Self.bind(listener, path: path), listen(listener, 16) == 0,
              chown(path, uid, gid) == 0, chmod(path, mode_t(mode)) == 0,
              pipe(&pipeFDs) == 0
        else {
            let reason = String(cString: strerror(errno))
            close(listener)
            unlink(path)
            rmdir(directory)
            throw RuntimeError(.system, "cannot set up the ssh agent socket \(path): \(reason)")
        }
        for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        stopWrite = pipeFDs[1]
        finished = DispatchSemaphore(value: 0)
        let (stopRead, done, socketPath, directory) = (pipeFDs[0], finished, path, directory)
        let thread = Thread {
            Self.serve(listener: listener, stop: stopRead, target: target)
            close(listener)
            close(stopRead)
            unlink(socketPath)
            rmdir(directory)
            done.signal()
        }
        thread.name = "img-ssh-relay"
        thread.start()
    }

    /// Closes the socket and every relayed connection, and removes the socket; waits for that to be done.
    package func stop() {
        var byte: UInt8 = 1
        _ = write(stopWrite, &byte, 1)
        finished.wait()
        close(stopWrite)
    }

    /// A new private directory for Unix sockets under `$TMPDIR` (or `base`), falling back to /tmp when
    /// that is deep: socket paths are limited to 107 bytes.
    package static func makeSocketDirectory(prefix: String, in base: String? = nil) throws(RuntimeError) -> String {
        var base = base ?? ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        if base.utf8.count > 60 { base = "/tmp" }
        var template = Array((base + "/\(prefix)-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw RuntimeError(.system, "cannot create a directory for sockets in \(base): \(String(cString: strerror(errno)))")
        }
        return String(cString: made)
    }

    /// Calls `body` with `path` as a Unix socket address; false (ENAMETOOLONG) when it does not fit.
    private static func withAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Bool) -> Bool {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            errno = ENAMETOOLONG
            return false
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    private static func bind(_ fd: Int32, path: String) -> Bool {
        withAddress(path) { Glibc.bind(fd, $0, $1) == 0 }
    }

    private static func connect(to path: String) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return -1 }
        guard withAddress(path, { Glibc.connect(fd, $0, $1) == 0 }) else {
            close(fd)
            return -1
        }
        return fd
    }

    /// The relay loop: accepts clients, connects each to `target`, copies bytes both ways until either
    /// side closes, and returns (closing every pair) when `stop` becomes readable.
    private static func serve(listener: Int32, stop: Int32, target: String) {
        var pairs: [(client: Int32, agent: Int32)] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        defer { for pair in pairs { close(pair.client); close(pair.agent) } }
        while true {
            var polled = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
                          pollfd(fd: stop, events: Int16(POLLIN), revents: 0)]
            for pair in pairs {
                polled.append(pollfd(fd: pair.client, events: Int16(POLLIN), revents: 0))
                polled.append(pollfd(fd: pair.agent, events: Int16(POLLIN), revents: 0))
            }
            if poll(&polled, nfds_t(polled.count), -1) < 0 {
                if errno == EINTR { continue }
                return
            }
            if polled[1].revents != 0 { return }
            var closed: [Int] = []
            for (index, pair) in pairs.enumerated() {
                let directions = [(polled[2 + 2 * index], pair.agent), (polled[3 + 2 * index], pair.client)]
                for (from, to) in directions where from.revents != 0 {
                    let count = buffer.withUnsafeMutableBytes { read(from.fd, $0.baseAddress, $0.count) }
                    if count <= 0 || !sendAll(to, buffer, count) {
                        closed.append(index)
                        break
                    }
                }
            }
            for index in closed.reversed() {
                close(pairs[index].client)
                close(pairs[index].agent)
                pairs.remove(at: index)
            }
            if polled[0].revents & Int16(POLLIN) != 0 {
                let client = accept(listener, nil, nil)
                if client >= 0 {
                    _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                    let agent = connect(to: target)
                    if agent >= 0 { pairs.append((client, agent)) } else { close(client) }
                }
            }
        }
    }

    /// `send` without SIGPIPE when the other side has gone.
    private static func sendAll(_ fd: Int32, _ buffer: [UInt8], _ count: Int) -> Bool {
        var offset = 0
        while offset < count {
            let sent = buffer.withUnsafeBytes { send(fd, $0.baseAddress! + offset, count - offset, Int32(MSG_NOSIGNAL)) }
            if sent < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += sent
        }
        return true
    }
}
