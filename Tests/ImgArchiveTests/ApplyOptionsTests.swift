import Glibc
import ImgArchive
import ImgSystem
import Testing
import ImgTestSupport

/// What apply does when the layer asks for something the file system or the caller's privileges refuse.
@Suite struct ApplyOptionsTests {
    static func layer(_ build: (TarWriter) throws -> Void) throws -> [UInt8] {
        let sink = MemorySink()
        let tar = try TarWriter(sink: sink)
        try build(tar)
        try tar.finish()
        return sink.bytes
    }

    /// Linux refuses `user.*` xattrs on symlinks, even for root: a refusal we can provoke here.
    static let symlinkWithUserXattr: @Sendable (TarWriter) throws -> Void = { tar in
        try tar.writeHeader(TarEntry(path: "link", kind: .symlink, linkTarget: "target", xattrs: ["user.note": Array("x".utf8)]))
    }

    @Test func refusedXattrIsAWarningWhenBestEffort() throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        let summary = try LayerApplier.apply(TarReader(source: MemorySource(Self.layer(Self.symlinkWithUserXattr))), to: tmp.directory("root"),
                                             options: .init(xattrs: .bestEffort))
        #expect(summary.warnings.map(\.kind) == [.xattr])
        #expect(summary.warnings.first?.path == "link")
        #expect(TreeBuilder(root: tmp["root"]).status("link")?.kind == .symlink)
    }

    @Test func refusedXattrIsAnErrorWhenRequired() throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        let error = try #require(throws: ArchiveError.self) {
            try LayerApplier.apply(TarReader(source: MemorySource(Self.layer(Self.symlinkWithUserXattr)), label: "layer x"), to: tmp.directory("root"),
                                   options: .init(xattrs: .require))
        }
        #expect(error.code == .io)
        #expect(error.description.hasPrefix("layer x: entry \"link\" cannot set xattr user.note"))
    }

    @Test func ignoredXattrsAndOwnersAreNotTouched() throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        let bytes = try Self.layer { tar in
            try tar.write(TarEntry(path: "f", kind: .regular, uid: 1234, gid: 5678, xattrs: ["user.a": [1]]), contents: [1])
        }
        let summary = try LayerApplier.apply(TarReader(source: MemorySource(bytes)), to: tmp.directory("root"),
                                             options: .init(ownership: .ignore, xattrs: .ignore))
        #expect(summary.warnings.isEmpty)
        let t = TreeBuilder(root: tmp["root"])
        #expect(t.status("f")?.uid == 0 && t.status("f")?.gid == 0)
        #expect(t.xattrValue("f", "user.a") == nil)
    }

    @Test func devicesAreCreatedOrIgnored() throws {
        let bytes = try Self.layer { tar in
            try tar.writeHeader(TarEntry(path: "null", kind: .characterDevice, permissions: 0o666, deviceMajor: 1, deviceMinor: 3))
            try tar.writeHeader(TarEntry(path: "loop", kind: .blockDevice, permissions: 0o660, deviceMajor: 7, deviceMinor: 0))
        }
        let tmp = try TemporaryDirectory("img-archive-test")
        _ = try LayerApplier.apply(TarReader(source: MemorySource(bytes)), to: tmp.directory("made"))
        let made = TreeBuilder(root: tmp["made"])
        // Root here: mknod works.
        #expect(made.status("null")?.kind == .characterDevice && made.status("null")?.deviceMinor == 3)
        #expect(made.status("null")?.permissions == 0o666)
        #expect(made.status("loop")?.kind == .blockDevice && made.status("loop")?.deviceMajor == 7)
        _ = try LayerApplier.apply(TarReader(source: MemorySource(bytes)), to: tmp.directory("skipped"), options: .init(devices: .ignore))
        #expect(try listing(tmp["skipped"]).isEmpty)
    }

    @Test func setuidSurvivesChown() throws {
        let bytes = try Self.layer { tar in
            try tar.write(TarEntry(path: "su", kind: .regular, permissions: 0o6755, uid: 1000, gid: 1000), contents: Array("#!".utf8))
        }
        let tmp = try TemporaryDirectory("img-archive-test")
        _ = try LayerApplier.apply(TarReader(source: MemorySource(bytes)), to: tmp.directory("root"))
        let s = try #require(TreeBuilder(root: tmp["root"]).status("su"))
        #expect(s.permissions == 0o6755 && s.uid == 1000 && s.gid == 1000)
    }

    @Test func hardlinkToAnEarlierEntryAndToADirectory() throws {
        let bytes = try Self.layer { tar in
            try tar.write(TarEntry(path: "a", kind: .regular), contents: Array("shared".utf8))
            try tar.writeHeader(TarEntry(path: "b", kind: .hardlink, linkTarget: "a"))
        }
        let tmp = try TemporaryDirectory("img-archive-test")
        _ = try LayerApplier.apply(TarReader(source: MemorySource(bytes)), to: tmp.directory("root"))
        let t = TreeBuilder(root: tmp["root"])
        #expect(t.status("a")?.inode == t.status("b")?.inode && t.status("a")?.linkCount == 2)

        let toDirectory = try Self.layer { tar in
            try tar.write(TarEntry(path: "d", kind: .directory, permissions: 0o755), contents: [])
            try tar.writeHeader(TarEntry(path: "l", kind: .hardlink, linkTarget: "d"))
        }
        let error = try #require(throws: ArchiveError.self) {
            try LayerApplier.apply(TarReader(source: MemorySource(toDirectory)), to: tmp.directory("root2"))
        }
        #expect(error.code == .badHardlink)
    }

    @Test func replacingAFileKeepsLowerHardlinksIntact() throws {
        // A snapshotter may share inodes with a lower layer; a new file must never write into the old inode.
        let tmp = try TemporaryDirectory("img-archive-test")
        let root = tmp.directory("root")
        let lower = tmp.directory("lower")
        TreeBuilder(root: lower).file("shared", "lower content")
        link(lower + "/shared", root + "/shared")
        let bytes = try Self.layer { tar in try tar.write(TarEntry(path: "shared", kind: .regular), contents: Array("upper".utf8)) }
        _ = try LayerApplier.apply(TarReader(source: MemorySource(bytes)), to: root)
        #expect(TreeBuilder(root: lower).read("shared") == "lower content")
        #expect(TreeBuilder(root: root).read("shared") == "upper")
    }
}

@Suite struct IDMapTests {
    static let map = IDMap.rootless(uid: 1000, gid: 1000, subUIDStart: 100_000, subGIDStart: 200_000, count: 65536)

    @Test func mapsBothWays() {
        #expect(Self.map.hostUID(0) == 1000 && Self.map.hostUID(1) == 100_000 && Self.map.hostUID(1000) == 100_999)
        #expect(Self.map.hostGID(1000) == 200_999 && Self.map.hostUID(65537) == nil)
        #expect(Self.map.containerUID(100_999) == 1000 && Self.map.containerUID(1000) == 0 && Self.map.containerUID(5) == nil)
    }

    @Test func applyAndDiffTranslateOwners() throws {
        let bytes = try ApplyOptionsTests.layer { tar in
            try tar.write(TarEntry(path: "mine", kind: .regular, uid: 1000, gid: 1000), contents: [1])
            try tar.write(TarEntry(path: "root", kind: .regular, uid: 0, gid: 0), contents: [2])
        }
        let tmp = try TemporaryDirectory("img-archive-test")
        let root = tmp.directory("root")
        _ = try LayerApplier.apply(TarReader(source: MemorySource(bytes)), to: root, options: .init(idMap: Self.map))
        let t = TreeBuilder(root: root)
        #expect(t.status("mine")?.uid == 100_999 && t.status("mine")?.gid == 200_999)
        #expect(t.status("root")?.uid == 1000 && t.status("root")?.gid == 1000)

        let out = MemorySink()
        try LayerWriter.writeTar(try LayerDiff.changes(lower: nil, upper: root), from: root, to: out, options: .init(idMap: Self.map))
        let owners = try entries(ofTar: out.bytes).map { "\($0.path) \($0.uid):\($0.gid)" }
        #expect(owners == ["mine 1000:1000", "root 0:0"])

        // A host id outside the map must not leak into a layer.
        lchown(t.p("root"), 7, 7)
        #expect(throws: ArchiveError.self) {
            try LayerWriter.writeTar(try LayerDiff.changes(lower: nil, upper: root), from: root, to: MemorySink(), options: .init(idMap: Self.map))
        }
    }
}
