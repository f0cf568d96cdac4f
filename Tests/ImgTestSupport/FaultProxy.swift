// FaultProxy.swift owns starting the fault-injecting proxy (`faultProxyScript`) in front of a test registry and reading its stats.
import Foundation

/// A fault proxy (see `faultProxyScript`) in front of `registry`.
package final class FaultProxy: @unchecked Sendable {
    package let port: Int
    package let daemon: Daemon
    package var host: String { "127.0.0.1:\(port)" }

    package init(before of: TestRegistry, faults: [String]) async throws {
        var started: (port: Int, daemon: Daemon)?
        for attempt in 1... {
            let port = try LoopbackPort.free()
            let script = of.dir.file("fault_proxy_\(port).py")
            try faultProxyScript.write(toFile: script, atomically: true, encoding: .utf8)
            let daemon = try Daemon(try Prerequisite.python3.require(), [script, "\(port)", "\(of.port)", faults.joined(separator: ",")],
                                    log: of.dir.file("proxy-\(port).out"))
            do {
                try await waitForPort(port, daemon: daemon)
                started = (port, daemon)
                break
            } catch {
                daemon.stop()
                guard attempt < 5, LoopbackPort.lostRace(error) else { throw error }
            }
        }
        port = started!.port
        daemon = started!.daemon
    }

    package struct Stats: Decodable {
        package struct Seen: Decodable {
            package var method: String
            package var path: String
            package var range: String?
        }
        package var requests: [Seen]
        package var blob_bytes: Int
    }

    package func stats() throws -> Stats {
        let text = try run("python3", ["-c", "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://\(host)/_stats').read().decode())"])
        return try JSONDecoder().decode(Stats.self, from: Data(text.utf8))
    }

    package func stop() { daemon.stop() }
}

