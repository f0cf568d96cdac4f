import Foundation
import Testing
import ImgTestSupport

/// `--cache-to type=inline` on one machine, without a registry: the cache goes into the config of every image
/// output (the store, an OCI or docker archive), only with `type=inline`, the same each time; without an
/// image output it is one warning.
@Suite(.serialized, .needs(.busybox, .runc, .skopeo)) struct BuildInlineCacheOutputTests {
    /// The records of the inline cache in the config skopeo reads raw from `source`, or nil.
    static func records(_ source: String) throws -> [[String: Any]]? {
        let raw = try run("skopeo", ["inspect", "--raw", "--config", source])
        let config = try JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any]
        guard let text = config?["moby.buildkit.cache.v0"] as? String else { return nil }
        guard let document = Data(base64Encoded: text) else { throw TestFailure("\(source): the inline cache is not base64") }
        return try JSONSerialization.jsonObject(with: document) as? [[String: Any]]
    }

    /// The config digest of the stored image (`img inspect`).
    static func configDigest(_ state: String, _ image: String) throws -> String? {
        let result = try ImgBinary.run(["-s", state, "inspect", image])
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return ((json?["manifest"] as? [String: Any])?["config"] as? [String: Any])?["digest"] as? String
    }

    @Test func theInlineCacheIsInEveryImageOutputAndOnlyWithTypeInline() throws {
        try Prerequisite.require(.skopeo)
        let f = try BuildFixture()
        try f.write("Dockerfile", BuildCacheTests.multiStage())
        let a = BuildCacheTests.Machine(f, "a")
        let plain = try a.build(["-t", "plain"])
        #expect(plain.status == 0, "\(plain.stderr)")

        let oci = f.dir.url.appending(path: "inline.oci.tar").path
        let docker = f.dir.url.appending(path: "inline.docker.tar").path
        let inline = try a.build(["-t", "inline", "--cache-to", "type=inline", "-o", "type=oci,dest=\(oci)",
                                  "-o", "type=docker,dest=\(docker)"])
        #expect(inline.status == 0, "\(inline.stderr)")
        #expect(BuildFixture.steps(inline.stderr).ran.isEmpty, "the same steps, from the local cache\n\(inline.stderr)")
        // mode=min: tools' COPY and RUN, then the final stage's WORKDIR, COPY --from and RUN; not the builder's.
        let records = try #require(try Self.records("oci-archive:\(oci)"))
        #expect(records.count == 5, "\(records)")
        #expect(try Self.records("docker-archive:\(docker)")?.count == 5)
        #expect(try Self.records("oci-archive:\(oci)").map { $0.map { $0["digest"] as? String } }
                == (try Self.records("docker-archive:\(docker)")).map { $0.map { $0["digest"] as? String } })
        // The cache is part of the config, so of the digest; the same build again makes the same image.
        let digest = try a.digest("inline")
        #expect(digest != (try a.digest("plain")))
        #expect(try a.build(["-t", "again", "--cache-to", "type=inline"]).status == 0)
        #expect(try a.digest("again") == digest)
        #expect(try a.build(["-t", "plain-again"]).status == 0)
        #expect(try a.digest("plain-again") == (try a.digest("plain")), "without type=inline the image is as before")

        // Another state loads the docker archive and reads the image as any other.
        let b = BuildCacheTests.Machine(f, "b")
        let load = try ImgBinary.run(["-s", b.state, "load", "-i", docker])
        #expect(load.status == 0, "\(load.stderr)")
        // The load makes its own (OCI) manifest; the config, inline cache and all, is the one built.
        let configA = try Self.configDigest(a.state, "inline")
        let configB = try Self.configDigest(b.state, "inline")
        #expect(configA?.hasPrefix("sha256:") == true && configB == configA)

        let nothing = try a.build(["--cache-to", "type=inline"])
        #expect(nothing.status == 0, "\(nothing.stderr)")
        let warnings = nothing.stderr.split(separator: "\n").filter { $0.hasPrefix("warning: --cache-to") }
        #expect(warnings == ["warning: --cache-to type=inline: no image is written to carry it (use -t NAME or -o type=image|oci|docker)"],
                "\(nothing.stderr)")
    }
}
