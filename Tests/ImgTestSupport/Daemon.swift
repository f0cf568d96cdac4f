// Daemon.swift owns the long-running helpers the tests start (registry, proxy, token server) and waiting for their port.
import Foundation
import Glibc
package import ImgRegistry

/// A long-running helper (registry, proxy, token server) with its output in a log file, stopped by `stop()`.
package final class Daemon: Sendable {
    package let child: HelperProcess
    package let logPath: String

    package init(_ program: String, _ arguments: [String], log: String) throws {
        logPath = log
        child = try HelperProcess.spawn(program, arguments, stdin: .null, stdout: .file(log), stderr: .descriptor(1))
    }

    package var isRunning: Bool { child.isRunning }
    package var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// SIGTERM, then SIGKILL if it is still there after 5 seconds.
    package func stop() {
        child.signal(SIGTERM)
        for _ in 0..<100 where child.isRunning { usleep(50_000) }
        child.signal(SIGKILL)
        child.wait()
    }
}

/// Waits until something accepts connections on `port`, or the daemon dies.
package func waitForPort(_ port: Int, daemon: Daemon) async throws {
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
