import Foundation
import ImgRegistry
import Testing
import ImgTestSupport

/// `--cache-to type=registry,...,cache-mounts=true,compression=zstd` through the real binary and the real
/// registry: a cache mount one machine filled seeds the empty one of another, and the cache's layers are
/// zstd in the registry.
@Suite struct BuildCacheMountsRegistryTests {
    static let base = """
        FROM scratch
        COPY busybox /bin/busybox
        RUN ["/bin/busybox", "--install", "-s", "/bin"]

        """

    @Test(.needs(.dockerRegistry, .python3, .busybox, .runc, .skopeo))
    func aCacheMountTravelsThroughTheRegistry() async throws {
        try Prerequisite.require(.dockerRegistry, .python3, .busybox, .runc, .skopeo)
        try await withRegistry(.plain) { registry in
            let context = try TemporaryDirectory("img-cache-mounts-context")
            defer { context.remove() }
            try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: context.file("busybox"))
            let dockerfile = URL(filePath: context.file("Dockerfile"))
            try Data((Self.base + "RUN --mount=type=cache,target=/c,id=X echo hello > /c/seen\n").utf8).write(to: dockerfile)
            let cache = "\(registry.host)/test/mounts:v1"
            let bare = "\(registry.host)/test/mounts:bare"

            let a = try CommandLineRegistryTests.Img()
            defer { a.remove() }
            let cold = try a(["build", "--progress", "plain", "-t", "app",
                              "--cache-to", "type=registry,ref=\(cache),cache-mounts=true,compression=zstd,registry.insecure=true",
                              "--cache-to", "type=registry,ref=\(bare),registry.insecure=true", context.path])
            #expect(cold.status == 0, "\(cold.err)")
            #expect(cold.err.contains("pushed cache to \(cache)@sha256:"), "\(cold.err)")

            // The registry's manifest: zstd layers (the cache mount's too), each with its diffID.
            let raw = try HelperProcess.run("skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(cache)"])
            #expect(raw.status == 0, "\(String(decoding: raw.stderr, as: UTF8.self))")
            let manifest = try JSONSerialization.jsonObject(with: Data(raw.stdout)) as? [String: Any]
            let layers = (manifest?["layers"] as? [[String: Any]] ?? []).filter {
                ($0["annotations"] as? [String: String])?["containerd.io/uncompressed"] != nil
            }
            #expect(layers.count >= 2, "\(layers)")
            #expect(layers.allSatisfy { $0["mediaType"] as? String == "application/vnd.oci.image.layer.v1.tar+zstd" }, "\(layers)")

            // Machine B runs a changed RUN over the same mount: it starts from machine A's contents.
            try Data((Self.base + "RUN --mount=type=cache,target=/c,id=X cat /c/seen > /out 2>/dev/null || echo none > /out\n").utf8)
                .write(to: dockerfile)
            for (ref, expected) in [(cache, "hello\n"), (bare, "none\n")] {
                let b = try CommandLineRegistryTests.Img()
                defer { b.remove() }
                let warm = try b(["build", "--progress", "plain", "-t", "app",
                                  "--cache-from", "type=registry,ref=\(ref),registry.insecure=true", context.path])
                #expect(warm.status == 0, "\(warm.err)")
                #expect(!warm.err.contains("warning:"), "\(warm.err)")
                let steps = plainProgressSteps(warm.err)
                #expect(steps.cached.count == 2 && steps.ran.count == 1, "\(warm.err)")
                let rootfs = b.state.file("rootfs")
                #expect(try b(["unpack", "-o", rootfs, "app"]).status == 0)
                #expect(try String(contentsOfFile: rootfs + "/out", encoding: .utf8) == expected, "\(ref)")
            }
        }
    }
}
