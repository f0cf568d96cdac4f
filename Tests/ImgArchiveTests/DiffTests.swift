import Glibc
import ImgArchive
import ImgOCI
import ImgSystem
import Testing
import ImgTestSupport

@Suite struct DiffTests {
    /// lower and upper differ in every way a layer records.
    static func makePair(_ tmp: TemporaryDirectory) -> (lower: String, upper: String) {
        let lower = tmp.directory("lower"), upper = tmp.directory("upper")
        for root in [lower, upper] {
            let t = TreeBuilder(root: root)
            t.dir("etc")
            t.file("etc/same", "same")
            t.file("etc/modified", "before")
            t.file("etc/chmod", "x", mode: 0o644)
            t.file("etc/chown", "x")
            t.file("etc/deleted", "gone soon")
            t.dir("etc/deleted-dir")
            t.file("etc/deleted-dir/f", "f")
            t.symlink("etc/retarget", to: "old")
            t.symlink("etc/same-link", to: "same")
            t.file("etc/uncertain", "abc")  // same size and second-precision time: content decides
            t.dir("untouched")
            t.file("untouched/file", "u")
            t.times("untouched", 1_700_000_000, 0)
            t.times("etc/deleted-dir", 1_700_000_000, 0)
            t.times("etc", 1_700_000_000, 0)
        }
        let u = TreeBuilder(root: upper)
        u.file("etc/modified", "after!")
        chmod(u.p("etc/chmod"), 0o600)
        lchown(u.p("etc/chown"), 1000, 1000)
        unlink(u.p("etc/deleted"))
        unlink(u.p("etc/deleted-dir/f"))
        rmdir(u.p("etc/deleted-dir"))
        unlink(u.p("etc/retarget"))
        u.symlink("etc/retarget", to: "new")
        u.file("etc/uncertain", "xyz")
        u.file("etc/added", "new file")
        u.dir("etc/added-dir")
        u.file("etc/added-dir/inner", "inner")
        u.hardlink("etc/added-link", to: "etc/added")
        u.times("etc/added-dir", 1_700_000_000, 0)
        u.times("etc", 1_700_000_000, 0)
        return (lower, upper)
    }

    @Test func nativeDiffFindsExactlyTheChanges() throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        let (lower, upper) = Self.makePair(tmp)
        let changes = try LayerDiff.changes(lower: lower, upper: upper)
        #expect(changes.map(\.description) == [
            "parent etc",
            "deleted etc/deleted",
            "deleted etc/deleted-dir",
            "added etc/added",
            "added etc/added-dir",
            "added etc/added-dir/inner",
            "added etc/added-link",
            "modified etc/chmod",
            "modified etc/chown",
            "modified etc/modified",
            "modified etc/retarget",
            "modified etc/uncertain",
        ])
        let out = MemorySink()
        try LayerWriter.writeTar(changes, from: upper, to: out)
        let list = try entries(ofTar: out.bytes)
        #expect(list.map(\.path) == [
            "etc", "etc/.wh.deleted", "etc/.wh.deleted-dir", "etc/added", "etc/added-dir", "etc/added-dir/inner",
            "etc/added-link", "etc/chmod", "etc/chown", "etc/modified", "etc/retarget", "etc/uncertain",
        ])
        let byPath = Dictionary(uniqueKeysWithValues: list.map { ($0.path, $0) })
        #expect(byPath["etc/added-link"]?.kind == .hardlink && byPath["etc/added-link"]?.linkTarget == "etc/added")
        #expect(byPath["etc/chmod"]?.permissions == 0o600)
        #expect(byPath["etc/chown"]?.uid == 1000 && byPath["etc/chown"]?.gid == 1000)
        #expect(byPath["etc/retarget"]?.linkTarget == "new")
        #expect(byPath["etc/.wh.deleted"]?.kind == .regular && byPath["etc/.wh.deleted"]?.size == 0)
        #expect(byPath["etc/modified"]?.size == 6)
    }

    @Test func applyingTheDiffToLowerGivesUpper() throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        let (lower, upper) = Self.makePair(tmp)
        let out = try FileSink(creating: tmp["layer.tar.gz"])
        let digests = try LayerExport.diff(lower: lower, upper: upper, to: out)
        out.close()
        #expect(digests.compression == .gzip)
        _ = try LayerApplier.apply(layerAt: tmp["layer.tar.gz"], to: lower, expectedDiffID: digests.diffID)
        var a = try snapshot(lower), b = try snapshot(upper)
        a["."] = nil
        b["."] = nil
        #expect(a == b)
    }

    @Test func sameChangeGivesSameBytes() throws {
        var results: [BlobDigests] = []
        var blobs: [[UInt8]] = []
        for _ in 0..<2 {
            let tmp = try TemporaryDirectory("img-archive-test")
            let (lower, upper) = Self.makePair(tmp)
            let out = MemorySink()
            results.append(try LayerExport.diff(lower: lower, upper: upper, to: out))
            blobs.append(out.bytes)
        }
        #expect(blobs[0] == blobs[1])
        #expect(results[0] == results[1])
        #expect(results[0].digest == Digest.sha256(of: blobs[0]))
    }

    @Test func emptyDiffIsAnEmptyTar() throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        let a = tmp.directory("a"), b = tmp.directory("b")
        TreeBuilder(root: a).file("f", "same")
        TreeBuilder(root: b).file("f", "same")
        #expect(try LayerDiff.changes(lower: a, upper: b).isEmpty)
        let out = MemorySink()
        let digests = try LayerExport.diff(lower: a, upper: b, to: out, options: .init(compression: .uncompressed))
        #expect(out.bytes == [UInt8](repeating: 0, count: 1024))
        #expect(digests.diffID == digests.digest)
    }

    @Test func sourceDateEpochClampsTimes() throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        let tree = tmp.directory("tree")
        let t = TreeBuilder(root: tree)
        t.file("old", "o", mtime: 1_000_000_000)
        t.file("new", "n", mtime: 1_900_000_000, nsec: 5)
        t.dir("d", mtime: 1_800_000_000)
        let out = MemorySink()
        try LayerWriter.writeTar(try LayerDiff.changes(lower: nil, upper: tree), from: tree, to: out,
                                 options: .init(sourceDateEpoch: 1_500_000_000, preserveSubsecondTimes: true))
        let times = Dictionary(uniqueKeysWithValues: try entries(ofTar: out.bytes).map { ($0.path, $0.modificationTime) })
        #expect(times == ["old": Timestamp(seconds: 1_000_000_000), "new": Timestamp(seconds: 1_500_000_000),
                          "d": Timestamp(seconds: 1_500_000_000)])
        #expect(LayerWriteOptions.sourceDateEpoch(from: ["SOURCE_DATE_EPOCH": "42"]) == 42)
        #expect(LayerWriteOptions.sourceDateEpoch(from: ["SOURCE_DATE_EPOCH": "soon"]) == nil)
    }

    @Test func overlayUpperDiff() throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        let upper = tmp.directory("upper")
        let t = TreeBuilder(root: upper)
        t.dir("etc")
        t.file("etc/changed", "copied up and changed")
        mknod(t.p("etc/removed"), S_IFCHR | 0o000, 0)
        t.dir("var")
        t.dir("var/cache")
        t.xattr("var/cache", "trusted.overlay.opaque", "y")
        t.file("var/cache/new", "new")
        t.dir("home")
        t.xattr("home", "user.overlay.opaque", "y")
        t.xattr("etc", "trusted.overlay.origin", "junk")
        mknod(t.p("not-a-whiteout"), S_IFCHR | 0o600, dev_t(DeviceNumber.make(major: 1, minor: 3)))
        let changes = try LayerDiff.overlayChanges(upper: upper)
        #expect(changes.map(\.description) == [
            "modified etc",
            "deleted etc/removed",  // sorted by its entry name, .wh.removed
            "modified etc/changed",
            "modified home",
            "opaque home",
            "modified not-a-whiteout",
            "modified var",
            "modified var/cache",
            "opaque var/cache",
            "modified var/cache/new",
        ])
        let out = MemorySink()
        try LayerWriter.writeTar(changes, from: upper, to: out)
        let list = try entries(ofTar: out.bytes)
        #expect(list.map(\.path) == [
            "etc", "etc/.wh.removed", "etc/changed", "home", "home/.wh..wh..opq", "not-a-whiteout", "var", "var/cache",
            "var/cache/.wh..wh..opq", "var/cache/new",
        ])
        // Overlay's own bookkeeping never reaches a layer.
        #expect(list.allSatisfy { $0.xattrs.keys.allSatisfy { !$0.contains("overlay.") } })
        let device = try #require(list.first { $0.path == "not-a-whiteout" })
        #expect(device.kind == .characterDevice && device.deviceMajor == 1 && device.deviceMinor == 3)
    }

    @Test func overlayRoundTripThroughApply() throws {
        // A layer applied in overlay form and diffed back gives the same layer.
        let sink = MemorySink()
        let layer = try WhiteoutTests.layer()
        let tmp = try TemporaryDirectory("img-archive-test")
        let dir = tmp.directory("layer")
        _ = try LayerApplier.apply(TarReader(source: MemorySource(layer)), to: dir, options: .init(whiteouts: .overlay(.init())))
        try LayerWriter.writeTar(try LayerDiff.overlayChanges(upper: dir), from: dir, to: sink)
        #expect(try entries(ofTar: sink.bytes).map(\.path) == [
            ".wh.dir-gone", "a", "a/.wh.gone", "a/new", "opq", "opq/.wh..wh..opq", "opq/fresh", "opq/sub", "opq/sub/new",
        ])
    }
}
