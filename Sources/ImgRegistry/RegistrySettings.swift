import Foundation
import TOMLKit

/// How to reach one registry host, from `config.toml`'s `[registry."host"]` table (BuildKit's format).
package struct RegistryHostSettings: Sendable, Hashable, Decodable {
    /// Hosts (`host[:port]`, optionally with a scheme) tried before this one for pulls.
    package var mirrors: [String]?
    /// Plain HTTP.
    package var http: Bool?
    /// HTTPS without certificate verification.
    package var insecure: Bool?
    /// Extra CA certificate files (PEM).
    package var ca: [String]?

    package init(mirrors: [String]? = nil, http: Bool? = nil, insecure: Bool? = nil, ca: [String]? = nil) {
        self.mirrors = mirrors
        self.http = http
        self.insecure = insecure
        self.ca = ca
    }
}

/// Per-registry settings: `config.toml` plus the `certs.d` directories docker and img read CAs from.
package struct RegistrySettings: Sendable {
    package var hosts: [String: RegistryHostSettings]
    /// Directories holding `HOST[:PORT]/ca.crt` (and `*.crt`, `client.cert`/`client.key`).
    package var certificateDirectories: [String]

    package init(hosts: [String: RegistryHostSettings] = [:], certificateDirectories: [String] = []) {
        self.hosts = hosts
        self.certificateDirectories = certificateDirectories
    }

    /// `$XDG_CONFIG_HOME/img/config.toml` (default `~/.config/img/config.toml`) with img's and docker's
    /// `certs.d` directories. A missing file is no settings; a malformed one is an error.
    package static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RegistrySettings {
        let home = environment["HOME"] ?? NSHomeDirectory()
        let configHome = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.config"
        var settings = try load(path: configHome + "/img/config.toml")
        settings.certificateDirectories = [configHome + "/img/certs.d", "/etc/docker/certs.d"]
        return settings
    }

    package static func load(path: String) throws -> RegistrySettings {
        guard let data = FileManager.default.contents(atPath: path) else { return RegistrySettings() }
        return try parse(String(decoding: data, as: UTF8.self), source: path)
    }

    package static func parse(_ text: String, source: String = "config.toml") throws -> RegistrySettings {
        struct File: Decodable { var registry: [String: RegistryHostSettings]? }
        do {
            let file = try TOMLDecoder().decode(File.self, from: text)
            var hosts: [String: RegistryHostSettings] = [:]
            for (key, value) in file.registry ?? [:] { hosts[DockerConfig.canonicalHost(key)] = value }
            return RegistrySettings(hosts: hosts)
        } catch {
            throw RegistryError(.configuration, "cannot parse \(source): \(error)")
        }
    }

    package func settings(for host: String) -> RegistryHostSettings {
        hosts[DockerConfig.canonicalHost(host)] ?? RegistryHostSettings()
    }

    /// CA files for `host`: those named in config.toml, then `certs.d/HOST/*.crt`.
    package func caFiles(for host: String) -> [String] {
        var files = settings(for: host).ca ?? []
        for dir in certificateDirectories {
            let hostDir = "\(dir)/\(host)"
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: hostDir) else { continue }
            for name in names.sorted() where name.hasSuffix(".crt") { files.append("\(hostDir)/\(name)") }
        }
        return files
    }

    /// A client certificate pair from `certs.d/HOST/client.cert` + `client.key`, when present.
    package func clientCertificate(for host: String) -> (cert: String, key: String)? {
        for dir in certificateDirectories {
            let cert = "\(dir)/\(host)/client.cert", key = "\(dir)/\(host)/client.key"
            if FileManager.default.fileExists(atPath: cert), FileManager.default.fileExists(atPath: key) {
                return (cert, key)
            }
        }
        return nil
    }
}
