import Glibc
import ImgArchive
import ImgSystem
import Testing
import ImgTestSupport

@Suite struct WhiteoutTests {
    /// Lower: a/keep, a/gone, dir-gone/{x,y}, opq/{old,sub/old}, other.
    static func makeLower(_ root: String) {
        let t = TreeBuilder(root: root)
        t.dir("a")
        t.file("a/keep", "keep")
        t.file("a/gone", "gone")
        t.dir("dir-gone")
        t.file("dir-gone/x", "x")
        t.dir("dir-gone/y")
        t.dir("opq")
        t.file("opq/old", "old")
        t.dir("opq/sub")
        t.file("opq/sub/old", "old")
        t.file("other", "other")
    }

    /// A layer deleting a file and a directory, making `opq` opaque while adding to it.
    static func layer() throws -> [UInt8] {
        let sink = MemorySink()
        let tar = try TarWriter(sink: sink)
        try tar.write(TarEntry(path: "a", kind: .directory, permissions: 0o755), contents: [])
        try tar.write(TarEntry(path: "a/.wh.gone", kind: .regular), contents: [])
        try tar.write(TarEntry(path: "a/new", kind: .regular), contents: Array("new".utf8))
        try tar.write(TarEntry(path: ".wh.dir-gone", kind: .regular), contents: [])
        try tar.write(TarEntry(path: "opq", kind: .directory, permissions: 0o755), contents: [])
        try tar.write(TarEntry(path: "opq/.wh..wh..opq", kind: .regular), contents: [])
        try tar.write(TarEntry(path: "opq/fresh", kind: .regular), contents: Array("fresh".utf8))
        try tar.write(TarEntry(path: "opq/sub", kind: .directory, permissions: 0o755), contents: [])
        try tar.write(TarEntry(path: "opq/sub/new", kind: .regular), contents: Array("new".utf8))
        // A whiteout for something this same layer added does not hide it (image-spec: whiteouts only
        // apply to lower layers).
        try tar.write(TarEntry(path: "a/.wh.new", kind: .regular), contents: [])
        try tar.finish()
        return sink.bytes
    }

    @Test func mergedFormDeletesFromLowerLayers() throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        let root = tmp.directory("root")
        Self.makeLower(root)
        let summary = try LayerApplier.apply(TarReader(source: MemorySource(Self.layer())), to: root, options: .init(whiteouts: .merged))
        #expect(summary.whiteouts == 4)
        let names = try listing(root)
        #expect(names == ["a", "a/keep", "a/new", "opq", "opq/fresh", "opq/sub", "opq/sub/new", "other"])
    }

    @Test func opaqueMarkerAfterSiblingsKeepsThisLayersFiles() throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        let root = tmp.directory("root")
        Self.makeLower(root)
        let sink = MemorySink()
        let tar = try TarWriter(sink: sink)
        try tar.write(TarEntry(path: "opq/zz-new", kind: .regular), contents: [1])
        try tar.write(TarEntry(path: "opq/.wh..wh..opq", kind: .regular), contents: [])
        try tar.finish()
        _ = try LayerApplier.apply(TarReader(source: MemorySource(sink.bytes)), to: root)
        #expect(try listing(root + "/opq") == ["zz-new"])
    }

    @Test func overlayFormWritesDevicesAndOpaqueXattr() throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        let layerDir = tmp.directory("layer")
        let summary = try LayerApplier.apply(TarReader(source: MemorySource(Self.layer())), to: layerDir,
                                             options: .init(whiteouts: .overlay(.init(namespace: .trusted, form: .device))))
        #expect(summary.warnings.isEmpty)
        let t = TreeBuilder(root: layerDir)
        for path in ["a/gone", "dir-gone"] {
            let s = try #require(t.status(path))
            #expect(s.kind == .characterDevice && s.deviceMajor == 0 && s.deviceMinor == 0, "\(path)")
        }
        #expect(t.xattrValue("opq", "trusted.overlay.opaque") == "y")
        #expect(t.read("a/new") == "new")  // not hidden by its own layer's whiteout
        #expect(!t.exists("a/.wh.gone") && !t.exists("opq/.wh..wh..opq"))
    }

    @Test func overlayXattrFormNeedsNoMknod() throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        let layerDir = tmp.directory("layer")
        _ = try LayerApplier.apply(TarReader(source: MemorySource(Self.layer())), to: layerDir,
                                   options: .init(whiteouts: .overlay(.init(namespace: .user, form: .xattr))))
        let t = TreeBuilder(root: layerDir)
        let gone = try #require(t.status("a/gone"))
        #expect(gone.kind == .regular && gone.size == 0)
        #expect(t.xattrValue("a/gone", "user.overlay.whiteout") == "")
        #expect(t.xattrValue("a", "user.overlay.opaque") == "x")
        #expect(t.xattrValue("dir-gone", "user.overlay.whiteout") == "")
        #expect(t.xattrValue("opq", "user.overlay.opaque") == "y")
        // The overlay differ reads those markers back as the same whiteouts.
        let changes = try LayerDiff.overlayChanges(upper: layerDir)
        #expect(changes.filter { $0.kind == .deleted }.map(\.path) == ["dir-gone", "a/gone"])
        #expect(changes.filter { $0.kind == .opaque }.map(\.path) == ["opq"])
    }

    @Test func literalFormExtractsWhiteoutFiles() throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        let root = tmp.directory("root")
        _ = try LayerApplier.apply(TarReader(source: MemorySource(Self.layer())), to: root, options: .init(whiteouts: .literal))
        #expect(TreeBuilder(root: root).exists("a/.wh.gone"))
        #expect(TreeBuilder(root: root).exists("opq/.wh..wh..opq"))
    }
}
