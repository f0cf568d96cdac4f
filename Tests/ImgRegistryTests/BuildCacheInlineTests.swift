import Foundation
import ImgOCI
import ImgRegistry
import Testing
import ImgTestSupport

/// `--cache-to type=inline` and `--cache-from REF` through the real binary against the real registry: the
/// cache travels in the pushed image's config, from one state directory (machine) to a fresh one.
@Suite struct BuildCacheInlineTests {
    static let dockerfile = """
        FROM scratch
        COPY busybox /bin/busybox
        RUN ["/bin/busybox", "--install", "-s", "/bin"]
        ENV GREETING=hello
        WORKDIR /srv
        RUN echo "$GREETING" > /srv/greeting

        """

    typealias Img = CommandLineRegistryTests.Img

    static func steps(_ output: String) -> (cached: [String], ran: [String]) { plainProgressSteps(output) }

    static func warnings(_ output: String) -> [String] {
        output.split(separator: "\n").map(String.init).filter { $0.hasPrefix("warning:") }
    }

    /// The image config `reference` names in the registry (for `arch`, in an index), as stored (skopeo's
    /// `--raw`: without it skopeo prints only the fields it knows).
    static func config(_ reference: String, arch: String? = nil) throws -> [String: Any] {
        let inspect = try HelperProcess.run("skopeo", ["inspect", "--tls-verify=false"] + (arch.map { ["--override-arch", $0] } ?? [])
                                            + ["--raw", "--config", "docker://\(reference)"])
        guard inspect.status == 0 else { throw TestFailure("skopeo inspect --config: \(String(decoding: inspect.stderr, as: UTF8.self))") }
        return try JSONSerialization.jsonObject(with: Data(inspect.stdout)) as? [String: Any] ?? [:]
    }

    /// The records of a config's inline cache: base64 of a JSON array, as BuildKit writes it.
    static func inlineRecords(_ config: [String: Any]) throws -> [[String: Any]]? {
        guard let text = config["moby.buildkit.cache.v0"] as? String else { return nil }
        guard let data = Data(base64Encoded: text) else { throw TestFailure("the inline cache is not base64") }
        return try JSONSerialization.jsonObject(with: data) as? [[String: Any]]
    }

    static func digest(_ img: Img, _ image: String) throws -> String? {
        try BuildCacheRegistryTests.digest(img, image)
    }

    @Test(.needs(.dockerRegistry, .python3, .busybox, .runc, .skopeo))
    func inlineCacheThroughAnImagePushedByOneStateAndUsedByAnother() async throws {
        try Prerequisite.require(.dockerRegistry, .python3, .busybox, .runc, .skopeo)
        try await withRegistry { registry in
            let context = try TemporaryDirectory("img-inline-context")
            defer { context.remove() }
            try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: context.file("busybox"))
            try Data(Self.dockerfile.utf8).write(to: URL(filePath: context.file("Dockerfile")))
            let image = "\(registry.host)/test/inline:v1"

            let a = try Img()
            defer { a.remove() }
            // Without provenance (on by default for a push): machine B's local image must be the same bytes.
            let cold = try a(["build", "--progress", "plain", "--cache-to", "type=inline", "--provenance=false",
                              "-o", "type=image,name=\(image),push=true", context.path])
            #expect(cold.status == 0, "\(cold.err)")
            #expect(cold.err.contains("pushed \(image)@sha256:"), "\(cold.err)")
            #expect(cold.err.contains("--cache-to type=inline: 4 records in the image config"), "\(cold.err)")
            #expect(Self.warnings(cold.err).isEmpty, "\(cold.err)")
            let made = Self.steps(cold.err).ran
            #expect(made.count == 4, "COPY, RUN, WORKDIR, RUN (ENV is no step)\n\(cold.err)")

            // The pushed config carries the records of the steps that made it, in BuildKit's encoding, with
            // img's keys; layer indexes point into the image's own layers.
            let config = try Self.config(image)
            let records = try #require(try Self.inlineRecords(config), "\(config.keys.sorted())")
            #expect(records.count == made.count, "\(records)")
            #expect(records.allSatisfy { $0["img.keyVersion"] as? Int == 1 && ($0["digest"] as? String)?.hasPrefix("sha256:") == true })
            let diffIDs = ((config["rootfs"] as? [String: Any])?["diff_ids"] as? [Any])?.count ?? 0
            let indexes = records.compactMap { ($0["layers"] as? [[String: Any]])?.first?["layer"] as? Int }
            #expect(diffIDs == 4 && indexes.max() == diffIDs - 1 && indexes.allSatisfy { $0 >= 0 }, "\(records)")
            // skopeo reads the whole image, and img's own inspect reads it as any image.
            let copied = a.state.file("copied")
            let copy = try HelperProcess.run("skopeo", ["copy", "--src-tls-verify=false", "docker://\(image)", "oci:\(copied):x"])
            #expect(copy.status == 0, "\(String(decoding: copy.stderr, as: UTF8.self))")
            let parsed = try HelperProcess.run("skopeo", ["inspect", "--tls-verify=false", "--config", "docker://\(image)"])
            #expect(parsed.status == 0 && String(decoding: parsed.stdout, as: UTF8.self).contains("\"diff_ids\""),
                    "\(String(decoding: parsed.stderr, as: UTF8.self))")
            let inspected = try a(["inspect", image])
            #expect(inspected.status == 0 && inspected.out.contains("\"architecture\""), "\(inspected.err)")
            // An image built FROM it does not carry its inline cache on.
            let child = try TemporaryDirectory("img-inline-child")
            defer { child.remove() }
            try Data("FROM \(image)\nENV CHILD=1\n".utf8).write(to: URL(filePath: child.file("Dockerfile")))
            let childImage = "\(registry.host)/test/child:v1"
            let built = try a(["build", "--progress", "plain", "-o", "type=image,name=\(childImage),push=true", child.path])
            #expect(built.status == 0, "\(built.err)")
            #expect(try Self.config(childImage)["moby.buildkit.cache.v0"] == nil)

            // A fresh state: every step comes from the image's inline cache, and the image is the same.
            let b = try Img()
            defer { b.remove() }
            let warm = try b(["build", "--progress", "plain", "--cache-to", "type=inline", "--cache-from", image,
                              "-t", "app", context.path])
            #expect(warm.status == 0, "\(warm.err)")
            let steps = Self.steps(warm.err)
            #expect(steps.ran.isEmpty, "every step CACHED on the second machine\n\(warm.err)")
            #expect(Set(steps.cached) == Set(made), "\(warm.err)")
            #expect(Self.warnings(warm.err).isEmpty, "\(warm.err)")
            #expect(warm.err.contains("--cache-from \(image): 4 cached steps, "), "\(warm.err)")
            let digestA = try Self.digest(a, image)
            let digestB = try Self.digest(b, "app")
            #expect(digestA != nil && digestB == digestA)
            let rootfs = b.state.file("rootfs")
            #expect(try b(["unpack", "-o", rootfs, "app"]).status == 0)
            #expect(try String(contentsOfFile: rootfs + "/srv/greeting", encoding: .utf8) == "hello\n")

            // The last step edited: only it runs (type=registry,ref= reads an image's inline cache too).
            try Data(Self.dockerfile.replacingOccurrences(of: "> /srv/greeting", with: "world > /srv/greeting").utf8)
                .write(to: URL(filePath: context.file("Dockerfile")))
            let c = try Img()
            defer { c.remove() }
            let edited = try c(["build", "--progress", "plain", "--cache-from", "type=registry,ref=\(image)", context.path])
            #expect(edited.status == 0, "\(edited.err)")
            let editedSteps = Self.steps(edited.err)
            #expect(editedSteps.ran.count == 1 && editedSteps.ran.first?.contains("RUN echo \"$GREETING\" world") == true,
                    "\(edited.err)")
            #expect(editedSteps.cached.count == 3, "\(edited.err)")

            // Without type=inline the config has no inline cache, so the image is the one img always made.
            let plain = "\(registry.host)/test/plain:v1"
            let noInline = try c(["build", "--progress", "plain", "-o", "type=image,name=\(plain),push=true", context.path])
            #expect(noInline.status == 0, "\(noInline.err)")
            #expect(try Self.config(plain)["moby.buildkit.cache.v0"] == nil)

            // A missing image, or one without an inline cache: one warning line each, and the build goes on.
            let d = try Img()
            defer { d.remove() }
            for (reference, reason) in [("\(registry.host)/test/none:v1", "not found"), (plain, "has no inline cache")] {
                let result = try d(["build", "--progress", "plain", "--cache-from", reference, context.path])
                #expect(result.status == 0, "\(result.err)")
                let warnings = Self.warnings(result.err).filter { $0.hasPrefix("warning: --cache-from") }
                #expect(warnings.count == 1 && warnings[0].hasPrefix("warning: --cache-from \(reference): ")
                        && warnings[0].contains(reason) && warnings[0].hasSuffix("building without it"), "\(result.err)")
            }
        }
    }

    /// An inline cache BuildKit wrote (records without img's keys) or one of another img key version: one
    /// warning naming the reference and the version, and the build goes on without it.
    @Test(.needs(.dockerRegistry, .python3, .busybox, .tar, .gzip))
    func anInlineCacheOfAnotherKeyVersionOrBuildKitsIsOneWarning() async throws {
        try Prerequisite.require(.dockerRegistry, .python3, .busybox, .tar, .gzip)
        try await withRegistry { registry in
            let key = "sha256:" + String(repeating: "c", count: 64)
            let cases = [
                ("buildkit", "[{\"digest\":\"\(key)\",\"layers\":[{\"layer\":0,\"createdAt\":\"2026-01-01T00:00:00Z\"}]}]", "no img keys"),
                ("newer", "[{\"digest\":\"\(key)\",\"layers\":[{\"layer\":0}],\"img.keyVersion\":99}]", "img key version 99"),
            ]
            for (name, records, _) in cases {
                let dir = try TemporaryDirectory("img-inline-\(name)")
                defer { dir.remove() }
                let image = try TestImage.make(in: dir, inlineCache: Data(records.utf8))
                try await withClient(settings: registry.settings()) { client in
                    _ = try await client.pushImage(try registry.reference("test/\(name):v1"), root: image.root) { try image.content($0) }
                }
            }
            let context = try TemporaryDirectory("img-inline-versions")
            defer { context.remove() }
            try Data("hello\n".utf8).write(to: URL(filePath: context.file("hello.txt")))
            try Data("FROM scratch\nCOPY hello.txt /hello.txt\n".utf8).write(to: URL(filePath: context.file("Dockerfile")))
            let img = try Img()
            defer { img.remove() }
            for (name, _, reason) in cases {
                let reference = "\(registry.host)/test/\(name):v1"
                let result = try img(["build", "--progress", "plain", "--cache-from", reference, "-t", "x", context.path])
                #expect(result.status == 0, "\(result.err)")
                let warnings = Self.warnings(result.err)
                #expect(warnings.count == 1 && warnings[0].hasPrefix("warning: --cache-from \(reference): ")
                        && warnings[0].contains(reason) && warnings[0].hasSuffix("building without it"), "\(result.err)")
            }
        }
    }

    @Test(.needs(.dockerRegistry, .python3, .busybox, .skopeo))
    func eachPlatformsConfigCarriesItsOwnInlineCache() async throws {
        try Prerequisite.require(.dockerRegistry, .python3, .busybox, .skopeo)
        try await withRegistry { registry in
            let context = try TemporaryDirectory("img-inline-multi")
            defer { context.remove() }
            try Data("hello\n".utf8).write(to: URL(filePath: context.file("hello.txt")))
            try Data("""
                FROM scratch
                ARG TARGETARCH
                COPY hello.txt /hello.txt
                ENV ARCH=$TARGETARCH
                COPY hello.txt /again.txt

                """.utf8).write(to: URL(filePath: context.file("Dockerfile")))
            let image = "\(registry.host)/test/inline-multi:v1"
            let platforms = ["--platform", "linux/amd64,linux/arm64"]

            let a = try Img()
            defer { a.remove() }
            let cold = try a(["build", "--progress", "plain"] + platforms
                             + ["--cache-to", "type=inline", "--provenance=false", "-o", "type=image,name=\(image),push=true", context.path])
            #expect(cold.status == 0, "\(cold.err)")
            let made = Self.steps(cold.err).ran
            #expect(made.count == 4, "two COPY steps for each platform\n\(cold.err)")
            var keys: [String: Set<String>] = [:]
            for arch in ["amd64", "arm64"] {
                let config = try Self.config(image, arch: arch)
                #expect(config["architecture"] as? String == arch)
                let records = try #require(try Self.inlineRecords(config))
                #expect(records.count == 2, "\(arch): \(records)")
                keys[arch] = Set(records.compactMap { $0["digest"] as? String })
            }
            #expect(keys["amd64"]!.isDisjoint(with: keys["arm64"]!), "each platform's own steps")

            // Both platforms from the index, each from its own config: the same index.
            let b = try Img()
            defer { b.remove() }
            let warm = try b(["build", "--progress", "plain"] + platforms + ["--cache-from", image, "-t", "multi",
                              "--cache-to", "type=inline", context.path])
            #expect(warm.status == 0, "\(warm.err)")
            #expect(Self.steps(warm.err).ran.isEmpty && Self.steps(warm.err).cached.count == 4, "\(warm.err)")
            #expect(Self.warnings(warm.err).isEmpty, "\(warm.err)")
            let digestA = try Self.digest(a, image)
            let digestB = try Self.digest(b, "multi")
            #expect(digestA != nil && digestB == digestA)

            // One platform: that platform's inline cache.
            let c = try Img()
            defer { c.remove() }
            let arm = try c(["build", "--progress", "plain", "--platform", "linux/arm64", "--cache-from", image, context.path])
            #expect(arm.status == 0, "\(arm.err)")
            #expect(Self.steps(arm.err).ran.isEmpty && Self.steps(arm.err).cached.count == 2, "\(arm.err)")

            // A platform the index does not have: one warning naming it; the other platform still hits.
            let d = try Img()
            defer { d.remove() }
            let partial = try d(["build", "--progress", "plain", "--platform", "linux/arm64,linux/s390x", "--cache-from", image,
                                 "-t", "partial", context.path])
            #expect(partial.status == 0, "\(partial.err)")
            let warnings = Self.warnings(partial.err)
            #expect(warnings.count == 1 && warnings[0].hasPrefix("warning: --cache-from \(image): ")
                    && warnings[0].hasSuffix("building linux/s390x without it"), "\(partial.err)")
            let steps = Self.steps(partial.err)
            #expect(steps.cached.count == 2 && steps.cached.allSatisfy { $0.contains("linux/arm64") }, "\(partial.err)")
            #expect(steps.ran.count == 2 && steps.ran.allSatisfy { $0.contains("linux/s390x") }, "\(partial.err)")
        }
    }
}
