import Foundation
import ImgOCI
import ImgRegistry
import Testing
import ImgTestSupport

@Suite struct RegistrySettingsTests {
    let toml = """
        # BuildKit's format
        [registry."docker.io"]
        mirrors = ["127.0.0.1:5001", "https://mirror.example.com"]

        [registry."127.0.0.1:5001"]
        http = true

        [registry."secure.example:8443"]
        insecure = true
        ca = ["/etc/img/ca.pem"]
        """

    @Test func parsesRegistryTables() throws {
        let s = try RegistrySettings.parse(toml)
        #expect(s.settings(for: "docker.io").mirrors == ["127.0.0.1:5001", "https://mirror.example.com"])
        #expect(s.settings(for: "127.0.0.1:5001").http == true)
        #expect(s.settings(for: "secure.example:8443").insecure == true)
        #expect(s.caFiles(for: "secure.example:8443") == ["/etc/img/ca.pem"])
        #expect(s.settings(for: "unknown.example") == RegistryHostSettings())
    }

    @Test func mirrorsComeFirstForPullsOnly() throws {
        let s = try RegistrySettings.parse(toml)
        let ref = try Reference(parsing: "busybox")
        let pull = s.endpoints(for: ref, pull: true)
        #expect(pull.map(\.base) == ["http://127.0.0.1:5001", "https://mirror.example.com", "https://registry-1.docker.io"])
        #expect(pull.map(\.isMirror) == [true, true, false])
        #expect(s.endpoints(for: ref, pull: false).map(\.base) == ["https://registry-1.docker.io"])
    }

    @Test func insecureAndLoopbackMayFallBackToHTTP() throws {
        let s = try RegistrySettings.parse(toml)
        let insecure = s.endpoint(host: "secure.example:8443")
        #expect(insecure.scheme == .https && insecure.skipVerify && insecure.httpFallback)
        let local = s.endpoint(host: "localhost:5000")
        #expect(local.scheme == .https && !local.skipVerify && local.httpFallback)
        let remote = s.endpoint(host: "registry.example.com")
        #expect(!remote.skipVerify && !remote.httpFallback)
    }

    @Test func certsDirectoriesAddCAFiles() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.file("certs.d/h.example:5000"), withIntermediateDirectories: true)
        try "x".write(toFile: dir.file("certs.d/h.example:5000/ca.crt"), atomically: true, encoding: .utf8)
        try "".write(toFile: dir.file("config.toml"), atomically: true, encoding: .utf8)
        var s = try RegistrySettings.load(path: dir.file("config.toml"))
        s.certificateDirectories = [dir.file("certs.d")]
        #expect(s.caFiles(for: "h.example:5000") == [dir.file("certs.d/h.example:5000/ca.crt")])
        #expect(s.caFiles(for: "h.example") == [])
    }

    @Test func standardLocationUsesXDGConfigHome() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.file("img"), withIntermediateDirectories: true)
        try "[registry.\"r.example\"]\nhttp = true\n".write(toFile: dir.file("img/config.toml"), atomically: true, encoding: .utf8)
        let s = try RegistrySettings.standard(environment: ["XDG_CONFIG_HOME": dir.path, "HOME": "/nonexistent"])
        #expect(s.settings(for: "r.example").http == true)
        #expect(s.certificateDirectories == [dir.file("img/certs.d"), "/etc/docker/certs.d"])
        #expect(try RegistrySettings.standard(environment: ["HOME": "/nonexistent"]).hosts.isEmpty)
    }

    @Test func malformedTOMLIsAConfigurationError() {
        #expect(throws: RegistryError.self) { try RegistrySettings.parse("[registry.\"x\"]\nmirrors = 3\n") }
    }
}
