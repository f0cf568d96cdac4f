import Foundation
import ImgDockerfile
package import ImgOCI
package import ImgRuntime

/// The values of `img build --network`, `--add-host`, `--shm-size`, `--ulimit`, `--annotation` and
/// `--no-cache-filter` as docker buildx writes them; a malformed one is a one-line error naming its flag.
extension BuildRequest {
    /// `--network default|none|host`.
    package static func network(parsing text: String) throws -> RunStep.Network {
        switch text.lowercased() {
        case "default", "host": .host
        case "none": .none
        default: throw RequestError("--network \(text): unknown network mode (known: default, none, host)")
        }
    }

    /// `--add-host NAME:IP` or `NAME=IP` (IPv6 addresses keep their colons: only the first `:` splits, and
    /// `[...]` brackets are taken off). `host-gateway` is refused: img runs no bridge network to name a
    /// gateway of, and the host's own network is what RUN steps use already.
    package static func extraHost(parsing text: String) throws -> RunStep.ExtraHost {
        let separator = text.firstIndex(of: "=") ?? text.firstIndex(of: ":")
        guard let separator else { throw RequestError("--add-host \(text): expected HOST:IP or HOST=IP") }
        let name = String(text[..<separator])
        var address = String(text[text.index(after: separator)...])
        if address.hasPrefix("[") && address.hasSuffix("]") { address = String(address.dropFirst().dropLast()) }
        guard !name.isEmpty, !name.contains(where: { $0.isWhitespace }) else {
            throw RequestError("--add-host \(text): invalid host name")
        }
        if address == "host-gateway" {
            throw RequestError("--add-host \(text): host-gateway is not supported (RUN steps use the host's network: name 127.0.0.1 or the host's address instead)")
        }
        guard isIPAddress(address) else { throw RequestError("--add-host \(text): invalid IP address \"\(address)\"") }
        return RunStep.ExtraHost(name: name, address: address)
    }

    private static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    /// `--shm-size`: docker's sizes, read as a `RUN --mount=type=tmpfs,size=` is (bytes, or `k`, `m`, `g`,
    /// `t` as powers of 1024; `kb`, `KiB` and so on read the same). Must be more than 0.
    package static func shmSize(parsing text: String) throws -> Int64 {
        guard let bytes = RunMount.parseSize(text), bytes > 0 else {
            throw RequestError("--shm-size \(text): expected a size such as 64m, 1g or a number of bytes")
        }
        return bytes
    }

    /// `--ulimit NAME=SOFT[:HARD]`: docker's names; `-1` or `unlimited` is no limit; HARD defaults to SOFT.
    package static func ulimit(parsing text: String) throws -> RunStep.Ulimit {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty else { throw RequestError("--ulimit \(text): expected TYPE=SOFT[:HARD]") }
        let name = parts[0].lowercased()
        guard RunStep.Ulimit.names[name] != nil else {
            let known = RunStep.Ulimit.names.keys.sorted().joined(separator: ", ")
            throw RequestError("--ulimit \(text): unknown type \(parts[0]) (known: \(known))")
        }
        let limits = parts[1].split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard limits.count <= 2 else { throw RequestError("--ulimit \(text): expected TYPE=SOFT[:HARD]") }
        func limit(_ value: String) throws -> UInt64 {
            if value == "-1" || value.lowercased() == "unlimited" { return UInt64.max }
            guard let number = UInt64(value) else { throw RequestError("--ulimit \(text): \(value) is not a number") }
            return number
        }
        let soft = try limit(limits[0])
        let hard = limits.count == 2 ? try limit(limits[1]) : soft
        guard soft <= hard else { throw RequestError("--ulimit \(text): soft limit \(limits[0]) is above the hard limit \(limits[1])") }
        return RunStep.Ulimit(name: name, soft: soft, hard: hard)
    }

    /// `--annotation [TYPE[,TYPE...][[PLATFORM]]:]KEY=VALUE`; no TYPE is `manifest`, as buildx.
    package static func annotation(parsing text: String) throws -> [ImageAnnotations.Entry] {
        guard let equals = text.firstIndex(of: "=") else { throw RequestError("--annotation \(text): expected [TYPE:]KEY=VALUE") }
        let left = text[..<equals]
        let value = String(text[text.index(after: equals)...])
        var levels: [ImageAnnotations.Level] = [.manifest]
        var platform: Platform?
        var key = String(left)
        // The type prefix ends at the first `:` outside the `[os/arch]` part (OCI keys have none).
        if let colon = Self.prefixColon(left) {
            var prefix = String(left[..<colon])
            key = String(left[left.index(after: colon)...])
            if let open = prefix.firstIndex(of: "["), prefix.hasSuffix("]") {
                let name = String(prefix[prefix.index(after: open)..<prefix.index(before: prefix.endIndex)])
                do { platform = try Platform(parsing: name) } catch {
                    throw RequestError("--annotation \(text): invalid platform \"\(name)\"")
                }
                prefix = String(prefix[..<open])
            }
            levels = []
            for name in prefix.split(separator: ",", omittingEmptySubsequences: false) {
                guard let level = ImageAnnotations.Level(rawValue: String(name)) else {
                    throw RequestError("--annotation \(text): unknown type \"\(name)\" (known: manifest, index, manifest-descriptor, index-descriptor)")
                }
                levels.append(level)
            }
        }
        guard !key.isEmpty else { throw RequestError("--annotation \(text): empty key") }
        if platform != nil, levels.contains(where: { $0 == .index || $0 == .indexDescriptor }) {
            throw RequestError("--annotation \(text): an index annotation names no platform")
        }
        return levels.map { ImageAnnotations.Entry(level: $0, platform: platform, key: key, value: value) }
    }

    /// The first `:` outside brackets.
    private static func prefixColon(_ text: Substring) -> Substring.Index? {
        var depth = 0
        for index in text.indices {
            switch text[index] {
            case "[": depth += 1
            case "]": depth -= 1
            case ":" where depth == 0: return index
            default: continue
            }
        }
        return nil
    }

    /// `--no-cache-filter`: repeatable and comma-separated; names are case-insensitive like stage names.
    package static func noCacheStages(parsing values: [String]) throws -> [String] {
        var names: [String] = []
        for value in values {
            for name in value.split(separator: ",", omittingEmptySubsequences: false) {
                let name = name.trimmingCharacters(in: .whitespaces).lowercased()
                guard !name.isEmpty else { throw RequestError("--no-cache-filter \(value): empty stage name") }
                if !names.contains(name) { names.append(name) }
            }
        }
        return names
    }
}
