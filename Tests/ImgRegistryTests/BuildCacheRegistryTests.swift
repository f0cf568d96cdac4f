import Foundation
import ImgOCI
import ImgRegistry
import Testing
import ImgTestSupport

/// `--cache-to type=registry` and `--cache-from type=registry` through the real binary against the real
/// registry, with two state directories standing for two machines.
@Suite struct BuildCacheRegistryTests {
    static let dockerfile = """
        FROM scratch AS tools
        COPY busybox /bin/busybox
        RUN ["/bin/busybox", "--install", "-s", "/bin"]

        FROM tools AS builder
        RUN echo built > /artifact

        FROM tools
        COPY --from=builder /artifact /srv/artifact
        RUN echo final > /final

        """

    /// The `#N [...] TITLE` steps whose next status was CACHED, and those that ran.
    static func steps(_ output: String) -> (cached: [String], ran: [String]) { plainProgressSteps(output) }

    static func digest(_ img: CommandLineRegistryTests.Img, _ image: String) throws -> String? {
        let inspect = try img(["inspect", image])
        let json = try JSONSerialization.jsonObject(with: Data(inspect.out.utf8)) as? [String: Any]
        return (json?["descriptor"] as? [String: Any])?["digest"] as? String
    }

    /// A machine's img: trusting the registry's CA (certs.d) and logged in, for the TLS registry.
    static func machine(_ registry: TestRegistry, tls: Bool, login: Bool = true) throws -> CommandLineRegistryTests.Img {
        let img = try CommandLineRegistryTests.Img()
        guard tls else { return img }
        let certs = img.config.file("xdg/img/certs.d/\(registry.host)")
        try FileManager.default.createDirectory(atPath: certs, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: registry.caPath!, toPath: certs + "/ca.crt")
        if login {
            let result = try img(["login", "-u", "alice", "--password-stdin", registry.host], input: "s3cret\n")
            guard result.status == 0 else { throw MissingPrerequisite(description: "img login failed: \(result.err)") }
        }
        return img
    }

    @Test(.needs(.dockerRegistry, .python3, .busybox, .runc, .skopeo, .openssl, .htpasswd), arguments: [false, true])
    func exportToARegistryThenImportOnAnotherStateHitsEveryStep(tls: Bool) async throws {
        try Prerequisite.require(.dockerRegistry, .python3, .busybox, .runc, .skopeo, .openssl, .htpasswd)
        try await withRegistry(tls ? .tlsBasic(user: "alice", password: "s3cret") : .plain) { registry in
            let context = try TemporaryDirectory("img-cache-context")
            defer { context.remove() }
            try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: context.file("busybox"))
            try Data(Self.dockerfile.utf8).write(to: URL(filePath: context.file("Dockerfile")))
            let cache = "\(registry.host)/test/cache:v1"

            let a = try Self.machine(registry, tls: tls)
            defer { a.remove() }
            let cold = try a(["build", "--progress", "plain", "-t", "app", "--cache-to",
                                "type=registry,ref=\(cache),mode=max,image-manifest=true,oci-mediatypes=true" + (tls ? "" : ",registry.insecure=true"),
                                context.path])
            #expect(cold.status == 0, "\(cold.err)")
            #expect(cold.err.contains("pushed cache to \(cache)@sha256:"), "\(cold.err)")
            let made = Self.steps(cold.err).ran
            #expect(made.count == 5, "\(cold.err)")

            // The registry holds an OCI manifest whose config is the cache config.
            let raw = try HelperProcess.run("skopeo", ["inspect", "--raw", "--tls-verify=false"]
                                            + (tls ? ["--creds", "alice:s3cret"] : []) + ["docker://\(cache)"])
            #expect(raw.status == 0, "\(String(decoding: raw.stderr, as: UTF8.self))")
            let manifest = try JSONSerialization.jsonObject(with: Data(raw.stdout)) as? [String: Any]
            #expect((manifest?["config"] as? [String: Any])?["mediaType"] as? String == "application/vnd.buildkit.cacheconfig.v0")

            let b = try Self.machine(registry, tls: tls)
            defer { b.remove() }
            let warm = try b(["build", "--progress", "plain", "-t", "app", "--cache-from", "type=registry,ref=\(cache)" + (tls ? "" : ",registry.insecure=true"),
                               context.path])
            #expect(warm.status == 0, "\(warm.err)")
            let steps = Self.steps(warm.err)
            #expect(steps.ran.isEmpty, "every step CACHED on the second machine\n\(warm.err)")
            #expect(Set(steps.cached) == Set(made), "\(warm.err)")
            #expect(!warm.err.contains("warning:"), "\(warm.err)")
            #expect(try Self.digest(b, "app") != nil && (try Self.digest(b, "app")) == (try Self.digest(a, "app")))
            let rootfs = b.state.file("rootfs")
            #expect(try b(["unpack", "-o", rootfs, "app"]).status == 0)
            #expect(try String(contentsOfFile: rootfs + "/srv/artifact", encoding: .utf8) == "built\n")

            // A reference with no cache behind it (or, on the TLS registry, no credentials for it) is one
            // warning; the build goes on.
            let c = try Self.machine(registry, tls: tls, login: false)
            defer { c.remove() }
            let ref = tls ? cache : "\(registry.host)/test/none:v1"
            let missing = try c(["build", "--progress", "plain", "--cache-from", "type=registry,ref=\(ref)", context.path])
            #expect(missing.status == 0, "\(missing.err)")
            let warnings = missing.err.split(separator: "\n").filter { $0.hasPrefix("warning: --cache-from") }
            #expect(warnings.count == 1 && warnings[0].hasSuffix("building without it"), "\(missing.err)")
            #expect(Self.steps(missing.err).cached.isEmpty, "\(missing.err)")
        }
    }
}
