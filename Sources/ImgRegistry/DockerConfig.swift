import Foundation

/// Credentials from docker's `config.json` (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`):
/// inline `auths`, a default `credsStore`, and per-registry `credHelpers`.
package struct DockerConfig: CredentialStore {
    /// The key Docker Hub's credentials are stored under.
    package static let dockerHubKey = "https://index.docker.io/v1/"

    package let path: String
    /// Extra directories searched for `docker-credential-*` before `$PATH`.
    package var environment: [String: String]

    package init(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.path = path
        self.environment = environment
    }

    /// The config file docker itself would use.
    package static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) -> DockerConfig {
        let dir = environment["DOCKER_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.docker")
        return DockerConfig(path: dir + "/config.json", environment: environment)
    }

    /// The host a config key names: `https://index.docker.io/v1/` → `docker.io`, `http://h:5000/v2/` → `h:5000`.
    package static func host(ofKey key: String) -> String {
        var k = Substring(key)
        if let r = k.range(of: "://") { k = k[r.upperBound...] }
        if let slash = k.firstIndex(of: "/") { k = k[..<slash] }
        return canonicalHost(String(k))
    }

    /// Docker Hub's several names collapse to `docker.io`.
    package static func canonicalHost(_ host: String) -> String {
        switch host {
        case "index.docker.io", "registry-1.docker.io", "docker.io", "registry.hub.docker.com": return "docker.io"
        default: return host
        }
    }

    /// The server name a credential helper is asked about.
    static func helperServer(for host: String) -> String {
        canonicalHost(host) == "docker.io" ? dockerHubKey : host
    }

    // MARK: Reading

    package func credentials(for host: String) async throws -> Credentials? {
        let host = DockerConfig.canonicalHost(host)
        guard let object = try readObject() else { return nil }
        if let helpers = object["credHelpers"] as? [String: Any] {
            for (key, name) in helpers where DockerConfig.host(ofKey: key) == host {
                if let name = name as? String { return try helper(name).get(server: DockerConfig.helperServer(for: host)) }
            }
        }
        if let store = object["credsStore"] as? String, !store.isEmpty {
            if let found = try helper(store).get(server: DockerConfig.helperServer(for: host)) { return found }
        }
        guard let auths = object["auths"] as? [String: Any] else { return nil }
        for (key, value) in auths where DockerConfig.host(ofKey: key) == host {
            guard let entry = value as? [String: Any] else { continue }
            if let auth = entry["auth"] as? String, !auth.isEmpty {
                guard let decoded = Base64.decode(auth), let text = String(validating: decoded, as: UTF8.self),
                      let colon = text.firstIndex(of: ":")
                else { throw RegistryError(.configuration, "invalid \"auth\" for \(key) in \(path)") }
                return Credentials(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
            }
            if let user = entry["username"] as? String, let password = entry["password"] as? String {
                return Credentials(username: user, password: password)
            }
            if let token = entry["identitytoken"] as? String, !token.isEmpty {
                return Credentials(username: "<token>", password: token)
            }
        }
        return nil
    }

    private func readObject() throws -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x09 || $0 == 0x0d }) { return [:] }
        do {
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw RegistryError(.configuration, "\(path) is not a JSON object")
            }
            return object
        } catch let e as RegistryError {
            throw e
        } catch {
            throw RegistryError(.configuration, "cannot parse \(path): \(error.localizedDescription)")
        }
    }

    private func helper(_ name: String) -> CredentialHelper {
        CredentialHelper(name: name, environment: environment)
    }

    // MARK: Writing (for `img login` / `img logout`)

    /// Saves credentials for `host`: through the configured helper when there is one, else into `auths`
    /// (keeping every other entry), and the file is left mode 0600.
    package func store(_ credentials: Credentials, for host: String) throws {
        let host = DockerConfig.canonicalHost(host)
        var object = try readObject() ?? [:]
        if let name = helperName(for: host, in: object) {
            try helper(name).store(server: DockerConfig.helperServer(for: host), credentials)
            return
        }
        var auths = object["auths"] as? [String: Any] ?? [:]
        for key in auths.keys where DockerConfig.host(ofKey: key) == host { auths[key] = nil }
        auths[host == "docker.io" ? DockerConfig.dockerHubKey : host] = [
            "auth": Base64.encode(Array("\(credentials.username):\(credentials.password)".utf8)),
        ]
        object["auths"] = auths
        try write(object)
    }

    /// Removes credentials for `host` from the helper or from `auths`.
    package func erase(for host: String) throws {
        let host = DockerConfig.canonicalHost(host)
        guard var object = try readObject() else { return }
        if let name = helperName(for: host, in: object) {
            try helper(name).erase(server: DockerConfig.helperServer(for: host))
            return
        }
        guard var auths = object["auths"] as? [String: Any] else { return }
        for key in auths.keys where DockerConfig.host(ofKey: key) == host { auths[key] = nil }
        object["auths"] = auths
        try write(object)
    }

    private func helperName(for host: String, in object: [String: Any]) -> String? {
        if let helpers = object["credHelpers"] as? [String: Any] {
            for (key, name) in helpers where DockerConfig.host(ofKey: key) == host { return name as? String }
        }
        if let store = object["credsStore"] as? String, !store.isEmpty { return store }
        return nil
    }

    private func write(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        // Write a private temp file, then rename: the secret is never world-readable, and a crash never
        // leaves a half-written config.
        let temp = path + ".tmp-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)  // not the pid: img may be pid 2 of its own namespace
        guard FileManager.default.createFile(atPath: temp, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw RegistryError(.configuration, "cannot write \(temp)")
        }
        chmod(temp, 0o600)
        guard rename(temp, path) == 0 else {
            unlink(temp)
            throw RegistryError(.configuration, "cannot replace \(path): errno \(errno)")
        }
    }
}
