package import Foundation
import Synchronization

/// A child process started with `posix_spawn`. Foundation's `Process` is not used: its exit detection runs
/// on Dispatch and spins or stalls when called from a busy Swift concurrency pool, and its children inherit
/// the spawning thread's blocked signals (a helper that cannot be stopped by SIGTERM).
package final class HelperProcess: Sendable {
    package let pid: pid_t
    private let exitStatus = Mutex<Int32?>(nil)

    private init(pid: pid_t) { self.pid = pid }

    /// Where a standard stream of the child goes.
    package enum Stream: Sendable {
        case inherit
        case null
        /// A file opened for writing (created or truncated), or for reading when used as stdin.
        case file(String)
        /// An existing descriptor of ours, duplicated into the child.
        case descriptor(Int32)
    }

    /// Starts `program` (looked up in `PATH` when it has no slash) with a clean signal mask and default
    /// signal actions. `stderr` of `.descriptor(1)` means "the same as stdout".
    package static func spawn(_ program: String, _ arguments: [String], environment: [String: String]? = nil,
                              stdin: Stream = .null, stdout: Stream = .inherit, stderr: Stream = .inherit) throws -> HelperProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        func apply(_ stream: Stream, to fd: Int32) {
            switch stream {
            case .inherit: break
            case .null: posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
            case .file(let path):
                posix_spawn_file_actions_addopen(&actions, fd, path, fd == 0 ? O_RDONLY : (O_WRONLY | O_CREAT | O_TRUNC), 0o644)
            case .descriptor(let source): posix_spawn_file_actions_adddup2(&actions, source, fd)
            }
        }
        apply(stdin, to: 0)
        apply(stdout, to: 1)
        apply(stderr, to: 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t(), defaults = sigset_t()
        sigemptyset(&empty)
        sigfillset(&defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { env.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, program, &actions, &attributes, argv, env)
        guard rc == 0 else {
            throw RegistryError(.configuration, "cannot run \(program): \(String(cString: strerror(rc)))")
        }
        return HelperProcess(pid: pid)
    }

    /// Whether the child is still running (reaps it when it has exited).
    package var isRunning: Bool {
        exitStatus.withLock { status in
            if status != nil { return false }
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid { status = HelperProcess.decode(raw); return false }
            return true
        }
    }

    /// Waits for the child to exit and returns its exit status (128+signal when killed by a signal).
    @discardableResult
    package func wait() -> Int32 {
        exitStatus.withLock { status in
            if let status { return status }
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) < 0, errno == EINTR {}
            let decoded = HelperProcess.decode(raw)
            status = decoded
            return decoded
        }
    }

    package func signal(_ signal: Int32) {
        guard isRunning else { return }
        kill(pid, signal)
    }

    private static func decode(_ raw: Int32) -> Int32 {
        let signal = raw & 0x7f
        return signal == 0 ? (raw >> 8) & 0xff : 128 + signal
    }

    /// Runs `program` to completion with `input` on stdin; returns its status, stdout and stderr. For helpers
    /// with small output: stdin is written fully before the outputs are read.
    package static func run(_ program: String, _ arguments: [String], input: [UInt8] = [],
                            environment: [String: String]? = nil) throws -> (status: Int32, stdout: [UInt8], stderr: [UInt8]) {
        var inPipe: [Int32] = [0, 0], outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&inPipe) == 0, pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
            throw RegistryError(.configuration, "cannot create pipes for \(program)")
        }
        // Our ends must not leak into the child.
        for fd in [inPipe[1], outPipe[0], errPipe[0]] { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let child: HelperProcess
        do {
            child = try spawn(program, arguments, environment: environment, stdin: .descriptor(inPipe[0]),
                              stdout: .descriptor(outPipe[1]), stderr: .descriptor(errPipe[1]))
        } catch {
            for fd in inPipe + outPipe + errPipe { close(fd) }
            throw error
        }
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        var written = 0
        input.withUnsafeBytes { bytes in
            while written < bytes.count {
                let n = Glibc.write(inPipe[1], bytes.baseAddress! + written, bytes.count - written)
                if n < 0 { if errno == EINTR { continue }; break }
                written += n
            }
        }
        close(inPipe[1])
        let out = readAll(outPipe[0]), err = readAll(errPipe[0])
        close(outPipe[0]); close(errPipe[0])
        return (child.wait(), out, err)
    }

    private static func readAll(_ fd: Int32) -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            result.append(contentsOf: buffer[0..<n])
        }
        return result
    }
}
