import Foundation
import ImgOCI
import ImgRegistry
import Testing
import ImgTestSupport

/// `img build` against a real registry: the base image is pulled by the build itself, the result is pushed
/// with `-o type=image,...,push=true`, read back by skopeo, and pulled into a fresh store by img.
@Suite struct BuildPushTests {
    @Test(.needs(.dockerRegistry, .python3, .busybox, .tar, .gzip, .skopeo))
    func buildFromARegistryImagePushAndPullBack() async throws {
        try Prerequisite.require(.dockerRegistry, .python3, .busybox, .tar, .gzip, .skopeo)
        try await withRegistry { registry in
            let image = try TestImage.make(in: registry.dir)
            let base = try registry.reference("test/base:v1")
            try await withClient(settings: registry.settings()) { client in
                _ = try await client.pushImage(base, root: image.root) { try image.content($0) }
            }
            let context = try TemporaryDirectory("img-build-context")
            defer { context.remove() }
            try Data("""
                FROM \(registry.host)/test/base:v1
                SHELL ["/bin/busybox", "sh", "-c"]
                RUN busybox mkdir -p /srv && echo "built on $(busybox uname -s)" > /srv/built
                CMD ["/bin/busybox", "cat", "/srv/built"]
                """.utf8).write(to: URL(filePath: context.file("Dockerfile")))

            let img = try CommandLineRegistryTests.Img()
            defer { img.remove() }
            let target = "\(registry.host)/test/built:v1"
            let build = try img(["build", "--progress", "plain", "-o", "type=image,name=\(target),push=true", context.path])
            #expect(build.status == 0, "\(build.err)")
            #expect(build.err.contains("pushed \(target)@sha256:"), "\(build.err)")
            // The base image was pulled by the build and recorded under its name, as docker does.
            #expect(try img(["ls"]).out.contains("\(registry.host)/test/base:v1"))

            let inspect = try HelperProcess.run("skopeo", ["inspect", "--tls-verify=false", "docker://\(target)"])
            #expect(inspect.status == 0, "\(String(decoding: inspect.stderr, as: UTF8.self))")
            #expect(String(decoding: inspect.stdout, as: UTF8.self).contains("\"Layers\""))

            let fresh = try CommandLineRegistryTests.Img()
            defer { fresh.remove() }
            #expect(try fresh(["pull", target]).status == 0)
            let rootfs = fresh.state.file("rootfs")
            #expect(try fresh(["unpack", "-o", rootfs, target]).status == 0)
            #expect(try String(contentsOfFile: rootfs + "/srv/built", encoding: .utf8) == "built on Linux\n")
        }
    }
}
