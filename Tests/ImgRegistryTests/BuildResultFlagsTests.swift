import Foundation
import Glibc
import ImgOCI
import ImgRegistry
import Testing
import ImgTestSupport

/// buildx's result flags through the real binary against the real registry: `--push`, `--pull`, `-q`,
/// `--iidfile`, `--metadata-file`.
@Suite struct BuildResultFlagsTests {
    typealias Img = CommandLineRegistryTests.Img

    static func push(_ image: TestImage, as reference: Reference, registry: TestRegistry) async throws {
        try await withClient(settings: registry.settings()) { client in
            _ = try await client.pushImage(reference, root: image.root) { try image.content($0) }
        }
    }

    @Test(.needs(.dockerRegistry, .python3, .busybox, .runc, .tar, .gzip, .skopeo))
    func pushPullQuietIidfileAndMetadataFile() async throws {
        try Prerequisite.require(.dockerRegistry, .python3, .busybox, .runc, .tar, .gzip, .skopeo)
        try await withRegistry { registry in
            let old = try TemporaryDirectory("img-base-old"), new = try TemporaryDirectory("img-base-new")
            defer { old.remove(); new.remove() }
            let base = try registry.reference("test/base:v1")
            try await Self.push(try TestImage.make(in: old), as: base, registry: registry)
            let context = try TemporaryDirectory("img-result-flags")
            defer { context.remove() }
            try Data("""
                FROM \(registry.host)/test/base:v1
                SHELL ["/bin/busybox", "sh", "-c"]
                RUN if busybox test -e /padding; then echo newer > /which; else echo older > /which; fi

                """.utf8).write(to: URL(filePath: context.file("Dockerfile")))
            let img = try Img()
            defer { img.remove() }
            let target = "\(registry.host)/test/app:v1"
            let iid = context.file("out/iid"), metadata = context.file("out/metadata.json")
            try FileManager.default.createDirectory(atPath: context.file("out"), withIntermediateDirectories: true)

            // -q prints the digest alone; --push pushes the -t name; both files hold the same digest.
            let built = try img(["build", "-q", "--push", "-t", target, "--iidfile", iid, "--metadata-file", metadata,
                                 context.path])
            #expect(built.status == 0, "\(built.err)")
            let digest = built.out.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(digest.hasPrefix("sha256:") && digest.count == 71, "\(built.out)")
            #expect(!built.err.contains("#1 "), "no progress lines with -q: \(built.err)")
            #expect(try String(contentsOfFile: iid, encoding: .utf8) == digest)
            let listed = try img(["ls"])
            #expect(listed.out.split(separator: "\n").contains { $0.contains("test/app:v1") && $0.contains(digest) }, "\(listed.out)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(filePath: metadata))) as? [String: Any])
            #expect(json["containerimage.digest"] as? String == digest)
            #expect((json["containerimage.config.digest"] as? String)?.hasPrefix("sha256:") == true)
            #expect((json["containerimage.descriptor"] as? [String: Any])?["digest"] as? String == digest)
            #expect(json["image.name"] as? String == target)
            let inspect = try HelperProcess.run("skopeo", ["inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://\(target)"])
            #expect(String(decoding: inspect.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == digest,
                    "--push pushed the image: \(String(decoding: inspect.stderr, as: UTF8.self))")

            // A device named as the file is written into, never replaced (as root, replacing /dev/null breaks the host).
            let toDevice = try img(["build", "-q", "-t", target, "--iidfile", "/dev/null", context.path])
            #expect(toDevice.status == 0, "\(toDevice.err)")
            var status = stat()
            #expect(stat("/dev/null", &status) == 0 && status.st_mode & S_IFMT == S_IFCHR, "/dev/null is still a device")

            // A newer base under the same tag: the stored one is used without --pull, the newer with it.
            try await Self.push(try TestImage.make(in: new, padding: 64), as: base, registry: registry)
            func which(_ arguments: [String]) throws -> String? {
                let build = try img(["build", "--progress", "plain", "-t", "which"] + arguments + [context.path])
                #expect(build.status == 0, "\(build.err)")
                let rootfs = img.state.file("rootfs-\(UUID().uuidString)")
                #expect(try img(["unpack", "-o", rootfs, "which"]).status == 0)
                return try? String(contentsOfFile: rootfs + "/which", encoding: .utf8)
            }
            #expect(try which([]) == "older\n")
            #expect(try which(["--pull"]) == "newer\n")

            // A failing -q build shows what it held back; --push without a name says what it needs.
            try Data("FROM \(registry.host)/test/base:v1\nRUN [\"/bin/busybox\", \"false\"]\n".utf8)
                .write(to: URL(filePath: context.file("Dockerfile")))
            let failed = try img(["build", "-q", "-t", "broken", context.path])
            #expect(failed.status != 0)
            #expect(failed.out.isEmpty && failed.err.contains("ERROR"), "\(failed.err)")
            let nameless = try img(["build", "--push", context.path])
            #expect(nameless.status != 0 && nameless.err.contains("--push needs a name"), "\(nameless.err)")
        }
    }
}
