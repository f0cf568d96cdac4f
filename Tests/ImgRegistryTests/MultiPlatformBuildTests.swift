import Foundation
import ImgOCI
import ImgRegistry
import Testing
import ImgTestSupport

/// `img build --platform a,b` through the real binary: one image per platform from a multi-platform base in
/// a real registry, an index over them in the store, pushed and in an OCI archive, a directory per platform
/// for type=local; what cannot be done says so in one line. (A RUN for another platform: EmulationTests.)
@Suite struct MultiPlatformBuildTests {
    static let amd64 = Platform(os: "linux", architecture: "amd64")
    static let arm64 = Platform(os: "linux", architecture: "arm64")

    @Test(.needs(.dockerRegistry, .python3, .busybox, .tar, .gzip, .skopeo))
    func severalPlatformsMakeAnIndexThatIsPushedArchivedAndUnpacked() async throws {
        try Prerequisite.require(.dockerRegistry, .python3, .busybox, .tar, .gzip, .skopeo)
        try await withRegistry { registry in
            let base = try TestImage.make(in: registry.dir, platforms: [Self.amd64, Self.arm64], mediaTypes: true)
            try await withClient(settings: registry.settings()) { client in
                _ = try await client.pushImage(try registry.reference("test/multi:v1"), root: base.root) { try base.content($0) }
            }
            let context = try TemporaryDirectory("img-multi-context")
            defer { context.remove() }
            try Data("hello\n".utf8).write(to: URL(filePath: context.file("hello.txt")))
            // The cross-compiling pattern: a stage on the build platform makes something for each target.
            try Data("""
                FROM --platform=$BUILDPLATFORM \(registry.host)/test/multi:v1 AS tools
                ARG TARGETARCH
                SHELL ["/bin/busybox", "sh", "-c"]
                RUN echo "made on $(busybox uname -m) for $TARGETARCH" > /tools.txt
                FROM \(registry.host)/test/multi:v1
                ARG TARGETPLATFORM
                ARG TARGETARCH
                COPY hello.txt /hello.txt
                COPY --from=tools /tools.txt /tools.txt
                LABEL built-for=$TARGETPLATFORM
                ENV ARCH=$TARGETARCH
                """.utf8).write(to: URL(filePath: context.file("Dockerfile")))

            let img = try CommandLineRegistryTests.Img()
            defer { img.remove() }
            let target = "\(registry.host)/test/multi-out:v1"
            let archive = img.state.file("multi.oci.tar"), local = img.state.file("local")
            let build = try img(["build", "--progress", "plain", "--platform", "linux/amd64,linux/arm64",
                                 "-o", "type=image,name=\(target),push=true", "-o", "type=oci,dest=\(archive)",
                                 "-o", "type=local,dest=\(local)", context.path])
            #expect(build.status == 0, "\(build.err)")
            // Each platform's steps are titled with it, as BuildKit does.
            #expect(build.err.contains("[linux/amd64 4/7] COPY hello.txt /hello.txt"), "\(build.err)")
            #expect(build.err.contains("[linux/arm64 4/7] COPY hello.txt /hello.txt"), "\(build.err)")
            #expect(build.err.contains("pushed \(target)@sha256:"), "\(build.err)")

            // The registry has a manifest list with one image per platform, each with its own config.
            let raw = try HelperProcess.run("skopeo", ["inspect", "--tls-verify=false", "--raw", "docker://\(target)"])
            #expect(raw.status == 0, "\(String(decoding: raw.stderr, as: UTF8.self))")
            let list = try JSONDecoder().decode(Index.self, from: Data(raw.stdout))
            // A push attaches provenance (buildx's default): an OCI index, each platform's image, then an
            // attestation manifest naming each.
            #expect(list.mediaType == .ociIndex)
            #expect(list.manifests.compactMap(\.platform).map(\.description)
                    == ["linux/amd64", "linux/arm64", "unknown/unknown", "unknown/unknown"])
            #expect(list.manifests.suffix(2).map { $0.annotations?[Attestation.referenceDigestAnnotation] }
                    == list.manifests.prefix(2).map(\.digest.description))
            for (arch, platform) in [("amd64", "linux/amd64"), ("arm64", "linux/arm64")] {
                let inspect = try HelperProcess.run("skopeo", ["inspect", "--tls-verify=false", "--override-arch", arch,
                                                               "--config", "docker://\(target)"])
                #expect(inspect.status == 0, "\(String(decoding: inspect.stderr, as: UTF8.self))")
                let config = try JSONDecoder().decode(ImageConfig.self, from: Data(inspect.stdout))
                #expect(config.architecture == arch)
                #expect(config.config?.labels?["built-for"] == platform)
                #expect(config.config?.env?.contains("ARCH=\(arch)") == true)
                #expect(config.rootfs.diffIDs.count == 3)
            }
            // The store holds the same index under the name.
            #expect(try img(["ls"]).out.contains(target + " "))

            // The OCI archive: its index.json names one index, which lists both platforms.
            let oci = try HelperProcess.run("skopeo", ["inspect", "--raw", "oci-archive:\(archive)"])
            #expect(oci.status == 0, "\(String(decoding: oci.stderr, as: UTF8.self))")
            let ociIndex = try JSONDecoder().decode(Index.self, from: Data(oci.stdout))
            #expect(ociIndex.mediaType == .ociIndex)
            #expect(ociIndex.manifests.compactMap(\.platform).map(\.architecture) == ["amd64", "arm64", "unknown", "unknown"])

            // type=local: a directory per platform.
            for directory in ["linux_amd64", "linux_arm64"] {
                #expect(try String(contentsOfFile: "\(local)/\(directory)/hello.txt", encoding: .utf8) == "hello\n")
                #expect(FileManager.default.fileExists(atPath: "\(local)/\(directory)/bin/busybox"))
            }
            #expect(try String(contentsOfFile: "\(local)/linux_arm64/tools.txt", encoding: .utf8) == "made on x86_64 for arm64\n")
            #expect(try String(contentsOfFile: "\(local)/linux_amd64/tools.txt", encoding: .utf8) == "made on x86_64 for amd64\n")

            // Each platform's steps are in the cache: one of them alone is all CACHED.
            let again = try img(["build", "--progress", "plain", "--platform", "linux/arm64", "-t", "arm-only", context.path])
            #expect(again.status == 0, "\(again.err)")
            #expect(again.err.contains("CACHED") && !again.err.contains("cache miss"), "\(again.err)")

            // A docker archive holds one image: refused before anything runs.
            let docker = try img(["build", "--platform", "linux/amd64,linux/arm64", "-o", "type=docker,dest=\(img.state.file("d.tar"))",
                                  context.path])
            #expect(docker.status == 1)
            #expect(docker.err == "error: a docker archive holds one platform: use -o type=oci,dest=FILE for several platforms\n")
            #expect(!FileManager.default.fileExists(atPath: img.state.file("d.tar")))
        }
    }

    @Test(.needs(.dockerRegistry, .python3, .busybox, .tar, .gzip))
    func aBaseWithoutThePlatformSaysSo() async throws {
        try Prerequisite.require(.dockerRegistry, .python3, .busybox, .tar, .gzip)
        try await withRegistry { registry in
            let base = try TestImage.make(in: registry.dir)   // linux/amd64 only
            try await withClient(settings: registry.settings()) { client in
                _ = try await client.pushImage(try registry.reference("test/amd64:v1"), root: base.root) { try base.content($0) }
            }
            let context = try TemporaryDirectory("img-platform-context")
            defer { context.remove() }
            let img = try CommandLineRegistryTests.Img()
            defer { img.remove() }

            try Data("FROM \(registry.host)/test/amd64:v1\nENV X=1\n".utf8).write(to: URL(filePath: context.file("Dockerfile")))
            // Pulled for amd64 first, so the store has it: an arm64 build must not take it.
            #expect(try img(["build", "-t", "first", context.path]).status == 0)
            let wrong = try img(["build", "--platform", "linux/arm64", "-t", "wrong", context.path])
            #expect(wrong.status == 1)
            #expect(wrong.err.contains("Dockerfile:1: FROM \(registry.host)/test/amd64:v1:"), "\(wrong.err)")
            #expect(wrong.err.contains("is linux/amd64, not linux/arm64"), "\(wrong.err)")
            #expect(!(try img(["ls"]).out.contains("wrong")))
        }
    }
}
