// TestRegistry.swift owns a real registry for a test: Debian's docker-registry (plain, TLS with basic auth, or token auth) and a client to it.
import Foundation
package import ImgOCI
package import ImgRegistry

/// Debian's `docker-registry` on a free 127.0.0.1 port with filesystem storage in a temp dir, in one of
/// three set-ups. Stop it with `stop()` (`withRegistry` does).
package final class TestRegistry: @unchecked Sendable {
    // @unchecked: owned by one test.
    package enum Mode {
        /// Plain HTTP, no auth.
        case plain
        /// TLS with a CA the test makes, plus htpasswd basic auth.
        case tlsBasic(user: String, password: String)
        /// Plain HTTP with token auth from the Python token server; `field` is `token` or `access_token`.
        case token(user: String, password: String, field: String)
    }

    package let port: Int
    package let dir: TemporaryDirectory
    package private(set) var daemons: [Daemon] = []
    /// The CA that signed the TLS server certificate.
    package private(set) var caPath: String?
    package private(set) var tokenLogPath: String?

    package var host: String { "127.0.0.1:\(port)" }

    private init(port: Int, dir: TemporaryDirectory) {
        self.port = port
        self.dir = dir
    }

    package func reference(_ text: String) throws -> Reference { try Reference(parsing: "\(host)/\(text)") }

    /// Token server log lines (`who`, `scope`), oldest first.
    package func tokenRequests() -> [[String: Any]] {
        guard let path = tokenLogPath, let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// Settings a client needs to reach this registry: plain HTTP, or the CA through a `certs.d` directory.
    package func settings() -> RegistrySettings {
        var s = RegistrySettings()
        if caPath == nil {
            s.hosts[host] = RegistryHostSettings(http: true)
        } else {
            s.certificateDirectories = [dir.file("certs.d")]
        }
        return s
    }

    package static func start(_ mode: Mode) async throws -> TestRegistry {
        // LoopbackPort.free() answers with a port that was free a moment ago; under a parallel suite another test's
        // connection can take it before the registry (or its token server) binds it. Then start again.
        for attempt in 1... {
            let dir = try TemporaryDirectory("img-registry")
            let registry = TestRegistry(port: try LoopbackPort.free(), dir: dir)
            do {
                try await registry.launch(mode)
                return registry
            } catch {
                registry.stop()
                guard attempt < 5, LoopbackPort.lostRace(error) else { throw error }
            }
        }
        fatalError("unreachable")
    }

    private func launch(_ mode: Mode) async throws {
        var http = "  addr: 127.0.0.1:\(port)\n  secret: img-test-secret\n"
        var auth = ""
        switch mode {
        case .plain:
            break
        case .tlsBasic(let user, let password):
            try makeServerCertificate()
            http += "  tls:\n    certificate: \(dir.file("server.crt"))\n    key: \(dir.file("server.key"))\n"
            let line = try run("htpasswd", ["-Bbn", user, password]).trimmingCharacters(in: .whitespacesAndNewlines)
            try (line + "\n").write(toFile: dir.file("htpasswd"), atomically: true, encoding: .utf8)
            auth = "auth:\n  htpasswd:\n    realm: img-test\n    path: \(dir.file("htpasswd"))\n"
        case .token(let user, let password, let field):
            try run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir.file("token.key"),
                                "-out", dir.file("token.crt"), "-days", "2", "-subj", "/CN=img-test-token-issuer"])
            let tokenPort = try LoopbackPort.free()
            try tokenServerScript.write(toFile: dir.file("token_server.py"), atomically: true, encoding: .utf8)
            tokenLogPath = dir.file("token-requests.log")
            let server = try Daemon(try Prerequisite.python3.require(), [dir.file("token_server.py"), "\(tokenPort)", dir.file("token.key"),
                                                          dir.file("token.crt"), "img-test-issuer", "img-test",
                                                          "\(user):\(password)", tokenLogPath!, field],
                                    log: dir.file("token-server.out"))
            daemons.append(server)
            try await waitForPort(tokenPort, daemon: server)
            auth = """
                auth:
                  token:
                    realm: http://127.0.0.1:\(tokenPort)/token
                    service: img-test
                    issuer: img-test-issuer
                    rootcertbundle: \(dir.file("token.crt"))

                """
        }
        let config = """
            version: 0.1
            log:
              level: warn
              accesslog:
                disabled: true
            storage:
              filesystem:
                rootdirectory: \(dir.file("data"))
              delete:
                enabled: true
              redirect:
                disable: true
            http:
            \(http)\(auth)
            """
        try config.write(toFile: dir.file("config.yml"), atomically: true, encoding: .utf8)
        let daemon = try Daemon(try Prerequisite.dockerRegistry.require(), ["serve", dir.file("config.yml")], log: dir.file("registry.out"))
        daemons.append(daemon)
        try await waitForPort(port, daemon: daemon)
        try await waitForAPI(daemon)
    }

    /// Polls `/v2/` until the registry answers (401 counts: the API is up, it just wants credentials).
    private func waitForAPI(_ daemon: Daemon) async throws {
        var options = RegistryClient.Options()
        options.retry = .none
        let scheme: RegistryEndpoint.Scheme = caPath == nil ? .http : .https
        var ready = false
        try await withClient(settings: settings(), options: options) { client in
            for _ in 0..<100 where !ready {
                do {
                    try await client.ping(RegistryEndpoint(host: host, scheme: scheme))
                    ready = true
                } catch let e as RegistryError where e.code == .unauthorized {
                    ready = true
                } catch {
                    guard daemon.isRunning else { throw TestFailure("registry exited: \(daemon.log)") }
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
        }
        guard ready else { throw TestFailure("registry at \(host) never answered /v2/: \(daemon.log)") }
    }

    /// A CA and a server certificate for 127.0.0.1 signed by it, with the CA placed as
    /// `certs.d/127.0.0.1:PORT/ca.crt`.
    private func makeServerCertificate() throws {
        let d = dir
        try run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d.file("ca.key"), "-out", d.file("ca.crt"),
                            "-days", "2", "-subj", "/CN=img-test-ca"])
        try run("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", d.file("server.key"), "-out", d.file("server.csr"),
                            "-subj", "/CN=127.0.0.1"])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(toFile: d.file("ext.cnf"), atomically: true, encoding: .utf8)
        try run("openssl", ["x509", "-req", "-in", d.file("server.csr"), "-CA", d.file("ca.crt"), "-CAkey", d.file("ca.key"),
                            "-CAcreateserial", "-out", d.file("server.crt"), "-days", "2", "-extfile", d.file("ext.cnf")])
        let certDir = d.file("certs.d/\(host)")
        try FileManager.default.createDirectory(atPath: certDir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: d.file("ca.crt"), toPath: certDir + "/ca.crt")
        caPath = d.file("ca.crt")
    }

    package func stop() {
        for d in daemons.reversed() { d.stop() }
        dir.remove()
    }
}

/// Runs `body` with a fresh registry, always stopping it.
package func withRegistry(_ mode: TestRegistry.Mode = .plain, _ body: (TestRegistry) async throws -> Void) async throws {
    let registry = try await TestRegistry.start(mode)
    do {
        try await body(registry)
    } catch {
        registry.stop()
        throw error
    }
    registry.stop()
}

/// Runs `body` with a client, always shutting it down.
package func withClient(settings: RegistrySettings, credentials: any CredentialStore = StaticCredentialStore(),
                options: RegistryClient.Options = RegistryClient.Options(),
                _ body: (RegistryClient) async throws -> Void) async throws {
    let client = RegistryClient(settings: settings, credentials: credentials, options: options)
    do {
        try await body(client)
    } catch {
        try? await client.shutdown()
        throw error
    }
    try await client.shutdown()
}
