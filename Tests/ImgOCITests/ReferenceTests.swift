import ImgOCI
import Testing

@Suite struct ReferenceTests {
    static let hex = String(repeating: "ab", count: 32)

    @Test(arguments: [
        ("busybox", "docker.io/library/busybox", nil as String?, "busybox"),
        ("busybox:1.36", "docker.io/library/busybox", "1.36", "busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox", nil, "busybox"),
        ("docker.io/busybox", "docker.io/library/busybox", nil, "busybox"),
        ("index.docker.io/library/busybox:x", "docker.io/library/busybox", "x", "busybox:x"),
        ("user/app:v1.0-rc_1", "docker.io/user/app", "v1.0-rc_1", "user/app:v1.0-rc_1"),
        ("localhost/app", "localhost/app", nil, "localhost/app"),
        ("localhost:5000/a/b/c:t", "localhost:5000/a/b/c", "t", "localhost:5000/a/b/c:t"),
        ("127.0.0.1:5000/img", "127.0.0.1:5000/img", nil, "127.0.0.1:5000/img"),
        ("Registry.Example.com/ns/app", "Registry.Example.com/ns/app", nil, "Registry.Example.com/ns/app"),
        ("ghcr.io/a/b-c__d.e", "ghcr.io/a/b-c__d.e", nil, "ghcr.io/a/b-c__d.e"),
        ("[::1]:5000/x", "[::1]:5000/x", nil, "[::1]:5000/x"),
    ])
    func parses(input: String, name: String, tag: String?, familiar: String) throws {
        let r = try Reference(parsing: input)
        #expect(r.name == name)
        #expect(r.tag == tag)
        #expect(r.familiar == familiar)
        #expect(try Reference(parsing: r.description) == r, "normalised form parses to itself")
    }

    @Test func digestReference() throws {
        let r = try Reference(parsing: "host:5000/app:v1@sha256:\(Self.hex)")
        #expect(r.domain == "host:5000")
        #expect(r.path == "app")
        #expect(r.tag == "v1")
        #expect(r.digest?.description == "sha256:\(Self.hex)")
        #expect(r.withDefaultTag.tag == "v1")
        #expect(try Reference(parsing: "app@sha256:\(Self.hex)").withDefaultTag.tag == nil)
        #expect(try Reference(parsing: "app").withDefaultTag.description == "docker.io/library/app:latest")
    }

    @Test func dockerHubEndpoint() throws {
        #expect(try Reference(parsing: "busybox").registryHost == "registry-1.docker.io")
        #expect(try Reference(parsing: "127.0.0.1:5000/busybox").registryHost == "127.0.0.1:5000")
    }

    @Test(arguments: [
        ("", "empty reference"),
        ("Busybox", "must be lowercase"),
        ("docker.io/Library/busybox", "must be lowercase"),
        ("busybox:", "invalid tag"),
        ("busybox:-x", "invalid tag"),
        ("busybox:" + String(repeating: "t", count: 129), "invalid tag"),
        ("a//b", "invalid repository name"),
        ("a/b/", "invalid repository name"),
        ("-a", "invalid repository name"),
        ("a..b", "invalid repository name"),
        ("a___b", "invalid repository name"),
        ("host:port/x", "invalid registry host"),
        ("app@sha256:abc", "invalid digest"),
        ("app@md5:" + String(repeating: "a", count: 32), "unsupported algorithm"),
        (String(repeating: "a", count: 64), "64-byte hexadecimal"),
        ("a/" + String(repeating: "b", count: 260), "255 characters"),
        ("app name", "invalid"),
    ])
    func rejects(input: String, why: String) {
        #expect {
            try Reference(parsing: input)
        } throws: { error in
            let text = "\(error)"
            return text.contains("invalid reference \"\(input)\"") && text.contains(why)
        }
    }
}
