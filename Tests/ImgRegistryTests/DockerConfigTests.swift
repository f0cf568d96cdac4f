import Foundation
import ImgRegistry
import Testing
import ImgTestSupport

@Suite struct DockerConfigTests {
    func config(_ json: String, in dir: TemporaryDirectory, environment: [String: String] = [:]) throws -> DockerConfig {
        try json.write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
        return DockerConfig(path: dir.file("config.json"), environment: environment)
    }

    @Test func readsAuthsInEveryKeyForm() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let c = try config("""
            {"auths": {
              "https://index.docker.io/v1/": {"auth": "\(Data("hub:hubpass".utf8).base64EncodedString())"},
              "127.0.0.1:5000": {"auth": "\(Data("local:pa:ss".utf8).base64EncodedString())"},
              "https://registry.example.com/v2/": {"username": "u", "password": "p"},
              "http://plain.example:8080": {"auth": "\(Data("x:y".utf8).base64EncodedString())"}
            }, "psFormat": "keep me"}
            """, in: dir)
        #expect(try await c.credentials(for: "docker.io") == Credentials(username: "hub", password: "hubpass"))
        #expect(try await c.credentials(for: "registry-1.docker.io") == Credentials(username: "hub", password: "hubpass"))
        // Only the first colon separates: passwords may hold colons.
        #expect(try await c.credentials(for: "127.0.0.1:5000") == Credentials(username: "local", password: "pa:ss"))
        #expect(try await c.credentials(for: "registry.example.com") == Credentials(username: "u", password: "p"))
        #expect(try await c.credentials(for: "plain.example:8080") == Credentials(username: "x", password: "y"))
        #expect(try await c.credentials(for: "other.example") == nil)
    }

    @Test func missingFileHasNoCredentials() async throws {
        let c = DockerConfig(path: "/nonexistent/config.json", environment: [:])
        #expect(try await c.credentials(for: "docker.io") == nil)
    }

    @Test func malformedFileIsAConfigurationError() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let c = try config("{not json", in: dir)
        let error = await #expect(throws: RegistryError.self) { try await c.credentials(for: "docker.io") }
        #expect(error?.code == .configuration)
        #expect(error?.description.contains("config.json") == true)
    }

    @Test func standardPathHonoursDockerConfig() {
        #expect(DockerConfig.standard(environment: ["DOCKER_CONFIG": "/x/y", "HOME": "/h"]).path == "/x/y/config.json")
        #expect(DockerConfig.standard(environment: ["HOME": "/h"]).path == "/h/.docker/config.json")
    }

    @Test func storeKeepsOtherEntriesAndIsPrivate() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let c = try config(#"{"auths": {"other.example": {"auth": "b3RoZXI6cHc="}}, "detachKeys": "ctrl-x"}"#, in: dir)
        try c.store(Credentials(username: "me", password: "secret"), for: "127.0.0.1:5000")
        try c.store(Credentials(username: "hub", password: "h"), for: "docker.io")
        #expect(try await c.credentials(for: "127.0.0.1:5000") == Credentials(username: "me", password: "secret"))
        #expect(try await c.credentials(for: "other.example") == Credentials(username: "other", password: "pw"))
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: c.path))) as? [String: Any]
        #expect(object?["detachKeys"] as? String == "ctrl-x")
        #expect((object?["auths"] as? [String: Any])?[DockerConfig.dockerHubKey] != nil)
        let mode = (try FileManager.default.attributesOfItem(atPath: c.path)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        try c.erase(for: "127.0.0.1:5000")
        #expect(try await c.credentials(for: "127.0.0.1:5000") == nil)
        #expect(try await c.credentials(for: "other.example") != nil)
    }

    /// A `docker-credential-test` helper keeping one credential per server as files in its directory.
    func makeHelper(in dir: TemporaryDirectory) throws -> [String: String] {
        let bin = dir.file("bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let script = """
            #!/bin/sh
            store="\(dir.file("helper-store"))"
            mkdir -p "$store"
            case "$1" in
            get)
              server=$(cat)
              key=$(printf %s "$server" | tr '/:' '__')
              if [ -f "$store/$key" ]; then cat "$store/$key"; else echo "credentials not found in native keychain"; exit 1; fi ;;
            store)
              json=$(cat)
              server=$(printf %s "$json" | sed 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/')
              key=$(printf %s "$server" | tr '/:' '__')
              printf %s "$json" > "$store/$key" ;;
            erase)
              server=$(cat)
              key=$(printf %s "$server" | tr '/:' '__')
              rm -f "$store/$key" ;;
            *) exit 2 ;;
            esac
            """
        let path = bin + "/docker-credential-test"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = bin + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        return env
    }

    @Test func credHelpersAndCredsStore() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let env = try makeHelper(in: dir)
        // credHelpers for one host, credsStore for the rest; inline auths lose to the store.
        let c = try config("""
            {"credHelpers": {"helped.example:5000": "test"}, "credsStore": "test",
             "auths": {"127.0.0.1:5000": {}}}
            """, in: dir, environment: env)
        #expect(try await c.credentials(for: "helped.example:5000") == nil)
        try c.store(Credentials(username: "helped", password: "h1"), for: "helped.example:5000")
        try c.store(Credentials(username: "hubber", password: "h2"), for: "docker.io")
        #expect(try await c.credentials(for: "helped.example:5000") == Credentials(username: "helped", password: "h1"))
        #expect(try await c.credentials(for: "registry-1.docker.io") == Credentials(username: "hubber", password: "h2"))
        // The helper was asked about Docker Hub by its legacy key.
        #expect(FileManager.default.fileExists(atPath: dir.file("helper-store/https___index.docker.io_v1_")))
        // Nothing secret went into config.json.
        let text = try String(contentsOfFile: c.path, encoding: .utf8)
        #expect(!text.contains("h1") && !text.contains("h2"))
        try c.erase(for: "helped.example:5000")
        #expect(try await c.credentials(for: "helped.example:5000") == nil)
    }

    @Test func missingHelperIsAClearError() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let c = try config(#"{"credsStore": "does-not-exist"}"#, in: dir, environment: ["PATH": dir.path])
        let error = await #expect(throws: RegistryError.self) { try await c.credentials(for: "docker.io") }
        #expect(error?.description.contains("docker-credential-does-not-exist") == true)
    }
}
