import Foundation
import ImgOCI
import Testing
import ImgTestSupport

/// `--build-context NAME=docker-image://REF` with REF in a real registry: `FROM NAME` (an image that
/// exists nowhere) builds on REF, pulled from the registry.
@Suite struct BuildContextRegistryTests {
    typealias Img = CommandLineRegistryTests.Img

    @Test(.needs(.dockerRegistry, .python3, .busybox, .runc, .tar, .gzip))
    func dockerImageContextFromTheRegistry() async throws {
        try Prerequisite.require(.dockerRegistry, .python3, .busybox, .runc, .tar, .gzip)
        try await withRegistry { registry in
            let image = try TemporaryDirectory("img-bctx-image")
            defer { image.remove() }
            let pushed = try registry.reference("test/ctx:v1")
            try await BuildResultFlagsTests.push(try TestImage.make(in: image), as: pushed, registry: registry)
            let context = try TemporaryDirectory("img-bctx-context")
            defer { context.remove() }
            try Data("""
                FROM imaginary/base:1.0
                SHELL ["/bin/busybox", "sh", "-c"]
                RUN busybox echo built-on-context > /ran
                COPY --from=imaginary/base:1.0 /bin/busybox /copied-busybox

                """.utf8).write(to: URL(filePath: context.file("Dockerfile")))
            let img = try Img()
            defer { img.remove() }
            let built = try img(["build", "--progress", "plain", "-t", "app",
                                 "--build-context", "imaginary/base:1.0=docker-image://\(registry.host)/test/ctx:v1", context.path])
            #expect(built.status == 0, "\(built.err)")
            let rootfs = img.state.file("rootfs")
            #expect(try img(["unpack", "-o", rootfs, "app"]).status == 0)
            #expect(try String(contentsOfFile: rootfs + "/ran", encoding: .utf8) == "built-on-context\n")
            #expect(FileManager.default.fileExists(atPath: rootfs + "/copied-busybox"))
            #expect(built.err.contains("FROM \(registry.host)/test/ctx:v1"), "the step names the image used: \(built.err)")
        }
    }
}
