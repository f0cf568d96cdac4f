import Foundation
import ImgRegistry
import ImgTestSupport

/// A temporary directory removed when the test ends.
final class TempDir: Sendable {
    let path: String
    init(_ label: String = "img-registry-test") throws {
        let template = NSTemporaryDirectory() + "\(label).XXXXXX"
        var bytes = Array(template.utf8CString)
        guard let made = mkdtemp(&bytes) else { throw TestFailure("mkdtemp failed") }
        path = String(cString: made)
    }
    func file(_ name: String) -> String { path + "/" + name }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Runs a program to completion; throws with its output when it fails. stderr is folded into the result.
@discardableResult
func run(_ program: String, _ arguments: [String], environment: [String: String]? = nil,
         input: String? = nil) throws -> String {
    let result = try HelperProcess.run(program, arguments, input: Array((input ?? "").utf8), environment: environment)
    let text = String(decoding: result.stdout, as: UTF8.self)
    guard result.status == 0 else {
        throw TestFailure("\(program) \(arguments.joined(separator: " ")) failed (\(result.status)): \(text)"
            + String(decoding: result.stderr, as: UTF8.self))
    }
    return text
}

/// A long-running helper (registry, proxy, token server) with its output in a log file, stopped by `stop()`.
final class Daemon: Sendable {
    let child: HelperProcess
    let logPath: String

    init(_ program: String, _ arguments: [String], log: String) throws {
        logPath = log
        child = try HelperProcess.spawn(program, arguments, stdin: .null, stdout: .file(log), stderr: .descriptor(1))
    }

    var isRunning: Bool { child.isRunning }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// SIGTERM, then SIGKILL if it is still there after 5 seconds.
    func stop() {
        child.signal(SIGTERM)
        for _ in 0..<100 where child.isRunning { usleep(50_000) }
        child.signal(SIGKILL)
        child.wait()
    }
}

/// A 127.0.0.1 port nobody is listening on right now.
func freePort() throws -> Int {
    let (fd, port) = try boundLoopbackSocket()
    close(fd)
    return port
}

/// A loopback port that stays bound, but not listening, until `socket` is closed: every connection to it is
/// refused, and no registry or proxy another test starts meanwhile can take it.
func refusingPort() throws -> (port: Int, socket: Int32) {
    let (fd, port) = try boundLoopbackSocket()
    return (port, fd)
}

private func boundLoopbackSocket() throws -> (Int32, Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket failed") }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    guard bound else {
        close(fd)
        throw TestFailure("bind failed")
    }
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}

/// Waits until something accepts connections on `port`, or the daemon dies.
func waitForPort(_ port: Int, daemon: Daemon) async throws {
    for _ in 0..<200 {
        guard daemon.isRunning else { throw TestFailure("daemon exited: \(daemon.log)") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        close(fd)
        if ok { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw TestFailure("nothing listened on port \(port): \(daemon.log)")
}
