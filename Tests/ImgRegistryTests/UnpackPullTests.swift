import Foundation
import ImgOCI
import ImgRegistry
import Testing
import ImgTestSupport

/// `img unpack IMAGE` pulls an image the store does not have, as `docker run` does.
@Suite struct UnpackPullTests {
    @Test(.needs(.dockerRegistry, .python3, .busybox, .tar, .gzip))
    func unpackPullsAnImageTheStoreLacks() async throws {
        try Prerequisite.require(.dockerRegistry, .python3, .busybox, .tar, .gzip)
        try await withRegistry { registry in
            let image = try TestImage.make(in: registry.dir)
            let reference = try registry.reference("test/unpacked:v1")
            try await withClient(settings: registry.settings()) { client in
                _ = try await client.pushImage(reference, root: image.root) { try image.content($0) }
            }
            let img = try CommandLineRegistryTests.Img()
            defer { img.remove() }
            let rootfs = img.state.file("rootfs")
            let unpacked = try img(["unpack", "-o", rootfs, "\(registry.host)/test/unpacked:v1"])
            #expect(unpacked.status == 0, "\(unpacked.err)")
            #expect(unpacked.err.contains("pulling it"), "\(unpacked.err)")
            #expect(FileManager.default.isExecutableFile(atPath: rootfs + "/bin/busybox"))
            #expect(try img(["ls"]).out.contains("\(registry.host)/test/unpacked:v1"), "kept in the store, as docker does")

            // A name no registry has is one line naming it, and no directory is left.
            let missing = img.state.file("missing")
            let failed = try img(["unpack", "-o", missing, "\(registry.host)/test/none:v1"])
            #expect(failed.status != 0)
            #expect(failed.err.contains("test/none:v1"), "\(failed.err)")
            #expect(!FileManager.default.fileExists(atPath: missing))
        }
    }
}
