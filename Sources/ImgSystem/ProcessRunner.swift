import CImgShim
import Glibc

/// How a child process ended.
package enum ProcessStatus: Sendable, Hashable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    /// Decodes a `waitpid` status word (the `WIFEXITED`/`WTERMSIG` macros are not visible to Swift).
    package init(waitStatus status: Int32) {
        if status & 0x7f == 0 {
            self = .exited((status >> 8) & 0xff)
        } else {
            self = .signaled(status & 0x7f)
        }
    }

    package var isSuccess: Bool { self == .exited(0) }

    /// The status a shell would report: the exit code, or 128 + the signal number.
    package var shellCode: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }

    package var description: String {
        switch self {
        case .exited(let code): "exit code \(code)"
        case .signaled(let signal): "signal \(signal)"
        }
    }
}

/// What a child's standard stream is connected to.
package enum StandardStream: Sendable, Hashable {
    /// The parent's own descriptor.
    case inherit
    /// `/dev/null`.
    case null
    /// A pipe whose other end the parent reads (stdout/stderr) or writes (stdin).
    case pipe
}

/// Which output stream a chunk came from.
package enum StdioStream: Sendable, Hashable {
    case stdout
    case stderr
}

/// Finds programs the way `execvp` would, but up front, so a missing one can be reported with its fix.
package enum ExecutableLookup {
    /// The first executable regular file called `name` in the `:`-separated `searchPath` (`$PATH` when nil).
    /// A name containing `/` is checked as it is.
    package static func find(_ name: String, searchPath: String? = nil) -> String? {
        if name.contains("/") { return isExecutableFile(name) ? name : nil }
        let path = searchPath ?? (getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin")
        for directory in path.split(separator: ":", omittingEmptySubsequences: true) {
            let candidate = directory.hasSuffix("/") ? "\(directory)\(name)" : "\(directory)/\(name)"
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }

    private static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return false }
        return access(path, X_OK) == 0
    }
}

/// A child started with `posix_spawn`; the parent owns its pipes and must `wait()` for it once.
package final class ChildProcess: @unchecked Sendable {
    // Sendable by discipline: the descriptors and pid are set once in init; `wait` and the `take…` methods
    // are called by one owner.
    package let pid: Int32
    /// Parent ends of the pipes asked for with `.pipe`; -1 otherwise. Closed by `closePipes()` or `wait()`.
    package private(set) var stdinFD: Int32
    package private(set) var stdoutFD: Int32
    package private(set) var stderrFD: Int32

    /// Starts `executable` (a path; see `ExecutableLookup`) with `arguments` (not including argv[0], which
    /// is `argv0`, or `executable`) and exactly `environment` (`NAME=value` strings). `keep` lists parent
    /// descriptors the child inherits under the same numbers.
    package init(
        executable: String, argv0: String? = nil, arguments: [String], environment: [String],
        stdin: StandardStream = .null, stdout: StandardStream = .inherit, stderr: StandardStream = .inherit,
        keep extraDescriptors: [Int32] = [], resetSignals: Bool = true
    ) throws(SystemError) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        var parentEnds: [Int32] = [-1, -1, -1]
        var childEnds: [Int32] = []
        defer { for fd in childEnds { close(fd) } }
        let streams = [stdin, stdout, stderr]
        for (target, stream) in streams.enumerated() {
            switch stream {
            case .inherit:
                break
            case .null:
                posix_spawn_file_actions_addopen(&actions, Int32(target), "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case .pipe:
                var fds: [Int32] = [-1, -1]
                guard img_shim_pipe_cloexec(&fds) == 0 else {
                    let error = SystemError.errno("pipe")
                    for fd in parentEnds where fd >= 0 { close(fd) }
                    throw error
                }
                let (childEnd, parentEnd) = target == 0 ? (fds[0], fds[1]) : (fds[1], fds[0])
                childEnds.append(childEnd)
                parentEnds[target] = parentEnd
                posix_spawn_file_actions_adddup2(&actions, childEnd, Int32(target))
            }
        }
        // Descriptors the child must keep (the user-namespace handshake): dup2 onto themselves clears
        // FD_CLOEXEC in the child only.
        for fd in extraDescriptors { posix_spawn_file_actions_adddup2(&actions, fd, fd) }

        var flags = Int16(POSIX_SPAWN_SETSIGMASK)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        if resetSignals {
            // A parent that ignores SIGINT/SIGPIPE (a shell's background job, a Swift runtime) must not pass
            // that on.
            var defaults = sigset_t()
            sigemptyset(&defaults)
            for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            flags |= Int16(POSIX_SPAWN_SETSIGDEF)
        }
        posix_spawnattr_setflags(&attributes, flags)

        let argv = [argv0 ?? executable] + arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var cEnv: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in cArgs { free(pointer) }
            for pointer in cEnv { free(pointer) }
        }
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, &actions, &attributes, &cArgs, &cEnv)
        guard result == 0 else {
            for fd in parentEnds where fd >= 0 { close(fd) }
            throw SystemError(operation: "start \(executable)", code: result)
        }
        pid = child
        stdinFD = parentEnds[0]
        stdoutFD = parentEnds[1]
        stderrFD = parentEnds[2]
    }

    /// Closes the parent's pipe ends that are still open.
    package func closePipes() {
        for fd in [stdinFD, stdoutFD, stderrFD] where fd >= 0 { close(fd) }
        stdinFD = -1
        stdoutFD = -1
        stderrFD = -1
    }

    /// Reads stdout and stderr (whichever are pipes) until both reach end of file, handing each chunk to
    /// `handler` in the order it arrived. Every `tickMilliseconds` without output `tick` is called (used
    /// to notice cancellation). Blocks the calling thread.
    package func drainOutput(
        tickMilliseconds: Int32 = 100, tick: () -> Void = {},
        _ handler: (StdioStream, [UInt8]) -> Void
    ) {
        var open: [(fd: Int32, stream: StdioStream)] = []
        if stdoutFD >= 0 { open.append((stdoutFD, .stdout)) }
        if stderrFD >= 0 { open.append((stderrFD, .stderr)) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty {
            var polled = open.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&polled, nfds_t(polled.count), tickMilliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            if ready == 0 {
                tick()
                continue
            }
            var finished: [Int32] = []
            for entry in polled where entry.revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    let stream: StdioStream = open.first { $0.fd == entry.fd }!.stream
                    handler(stream, Array(buffer[0..<count]))
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    finished.append(entry.fd)
                }
            }
            open.removeAll { finished.contains($0.fd) }
        }
    }

    /// Waits for the child to end (once), closing the parent's pipe ends.
    package func wait() throws(SystemError) -> ProcessStatus {
        closePipes()
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno == EINTR { continue }
            throw SystemError.errno("wait for process \(pid)")
        }
        return ProcessStatus(waitStatus: status)
    }

    /// The calling process's environment as `NAME=value` strings.
    package static var currentEnvironment: [String] {
        var result: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            result.append(String(cString: entry))
            pointer += 1
        }
        return result
    }

    /// Runs a program to completion, collecting its output. For short helper programs (`newuidmap`,
    /// `runc kill`), not for build steps.
    package static func collect(
        executable: String, arguments: [String], environment: [String]? = nil
    ) throws(SystemError) -> (status: ProcessStatus, stdout: String, stderr: String) {
        let child = try ChildProcess(
            executable: executable, arguments: arguments, environment: environment ?? currentEnvironment,
            stdin: .null, stdout: .pipe, stderr: .pipe)
        var out: [UInt8] = []
        var err: [UInt8] = []
        child.drainOutput { stream, bytes in
            if stream == .stdout { out += bytes } else { err += bytes }
        }
        let status = try child.wait()
        return (status, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }
}
