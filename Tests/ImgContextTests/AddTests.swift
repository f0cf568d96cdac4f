import Foundation
import Glibc
import ImgArchive
import ImgContext
import ImgOCI
import Testing
import ImgTestSupport

/// Archives built with img's own tar writer and compressors.
enum Archives {
    static func make(in scratch: TemporaryDirectory, files: [String: String], modes: [String: mode_t] = [:],
                     compression: LayerCompression) throws -> String {
        let name = "tree-\(UUID().uuidString)"
        let tree = Tree(root: scratch.directory(name))
        for (path, text) in files { tree.file(path, text, mode: modes[path] ?? 0o644, uid: 42, gid: 43) }
        let tar = scratch.path + "/\(name).tar"
        let sink = try FileSink(creating: tar)
        try TreeArchive.create(from: tree.root, to: sink)
        sink.close()
        guard compression != .uncompressed else { return tar }
        let compressed = tar + "." + compression.rawValue
        _ = try Compression.compress(file: tar, to: compressed, compression: compression)
        return compressed
    }

    static func copyInto(_ context: Tree, _ archive: String, as name: String) throws {
        try FileManager.default.copyItem(atPath: archive, toPath: context.p(name))
    }
}

struct AddTests {
    @Test(arguments: [LayerCompression.gzip, .zstd, .uncompressed])
    func extractsLocalArchives(_ compression: LayerCompression) throws {
        let f = Fixture()
        let archive = try Archives.make(in: f.scratch, files: ["bin/tool": "#!/bin/sh\n", "etc/conf": "x=1\n"],
                                        modes: ["bin/tool": 0o755], compression: compression)
        try Archives.copyInto(f.context, archive, as: "bundle")
        f.rootfs.file("opt/existing", "kept")
        try f.copy(["bundle"], "/opt", options: CopyOptions(isAdd: true))
        #expect(f.rootfs.listing() == ["opt/", "opt/bin/", "opt/bin/tool", "opt/etc/", "opt/etc/conf", "opt/existing"])
        #expect(f.rootfs.text("opt/bin/tool") == "#!/bin/sh\n")
        #expect(f.rootfs.mode("opt/bin/tool") == 0o755)
        // tar -x semantics: the archive's owners (running as root).
        #expect(f.rootfs.owner("opt/etc/conf") == "42:43")
    }

    @Test func chownAppliesToExtractedEntries() throws {
        let f = Fixture()
        let archive = try Archives.make(in: f.scratch, files: ["app/run": "go"], modes: ["app/run": 0o4755],
                                        compression: .zstd)
        try Archives.copyInto(f.context, archive, as: "app.tar.zst")
        try f.copy(["app.tar.zst"], "/srv/", options: CopyOptions(chown: "5:6", isAdd: true))
        #expect(f.rootfs.owner("srv/app/run") == "5:6")
        #expect(f.rootfs.mode("srv/app/run") == 0o4755)
        #expect(f.rootfs.owner("srv") == "5:6")
    }

    @Test func nonArchivesAreCopiedAsTheyAre() throws {
        let f = Fixture()
        f.context.file("fake.tar.gz", "not really an archive").file("empty.tar", "")
        try f.copy(["fake.tar.gz", "empty.tar"], "/d/", options: CopyOptions(isAdd: true))
        #expect(f.rootfs.text("d/fake.tar.gz") == "not really an archive")
        #expect(f.rootfs.text("d/empty.tar") == "")
    }

    @Test func copyNeverExtracts() throws {
        let f = Fixture()
        let archive = try Archives.make(in: f.scratch, files: ["inside": "i"], compression: .gzip)
        try Archives.copyInto(f.context, archive, as: "b.tar.gz")
        try f.copy(["b.tar.gz"], "/d/")
        #expect(f.rootfs.listing() == ["d/", "d/b.tar.gz"])
    }
}
