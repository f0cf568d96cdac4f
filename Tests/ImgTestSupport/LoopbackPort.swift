// LoopbackPort.swift owns choosing 127.0.0.1 ports for the helpers: free ones, refusing ones, and the lost-race check.
import Foundation
import Glibc

/// 127.0.0.1 ports for the registries, proxies and token servers the tests start.
package enum LoopbackPort {
    /// A 127.0.0.1 port nobody is listening on right now.
    package static func free() throws -> Int {
        let (fd, port) = try boundLoopbackSocket()
        close(fd)
        return port
    }

    /// A loopback port that stays bound, but not listening, until `socket` is closed: every connection to it is
    /// refused, and no registry or proxy another test starts meanwhile can take it.
    package static func refusing() throws -> (port: Int, socket: Int32) {
        let (fd, port) = try boundLoopbackSocket()
        return (port, fd)
    }

    private static func boundLoopbackSocket() throws -> (Int32, Int) {
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


    /// Whether a daemon failed because the port `free()` gave was taken in the meantime.
    package static func lostRace(_ error: any Error) -> Bool {
        "\(error)".lowercased().contains("address already in use")
    }
}
