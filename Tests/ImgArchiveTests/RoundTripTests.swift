import Glibc
import ImgArchive
import ImgOCI
import ImgSystem
import Testing
import ImgTestSupport

@Suite struct RoundTripTests {
    /// A tree with every kind of thing a layer carries.
    static func makeTree(_ root: String) {
        let t = TreeBuilder(root: root)
        t.dir("bin", uid: 0, gid: 0)
        t.file("bin/tool", "#!/bin/sh\necho hi\n", mode: 0o4755)
        t.file("bin/group-tool", "g", mode: 0o2711, uid: 0, gid: 1)
        t.dir("home", mode: 0o755)
        t.dir("home/user", mode: 0o700, uid: 1000, gid: 1000)
        t.file("home/user/notes.txt", "notes", mode: 0o600, uid: 1000, gid: 1000, mtime: 1_600_000_000, nsec: 123_456_789)
        t.file("home/user/with space.txt", "space", uid: 1000, gid: 1000)
        t.file("home/user/ünïcødé-文件.txt", "utf8", uid: 1, gid: 1)
        t.dir("empty", mode: 0o1777)
        t.dir("ro", mode: 0o555)
        t.file("data", "payload")
        t.hardlink("data-link", to: "data")
        t.symlink("link-rel", to: "data")
        t.symlink("link-abs", to: "/etc/passwd")
        t.symlink("link-dangling", to: "nowhere/at/all")
        t.file("attrs", "x")
        t.xattr("attrs", "user.comment", "hello")
        t.xattr("attrs", "user.empty", "")
        t.file("ro/inside", "inside of a read-only dir", mode: 0o444)
        t.times("ro", 1_650_000_000, 0)
        t.times("home/user", 1_650_000_001, 0)
        t.times("bin", 1_650_000_002, 0)
        t.times("", 1_650_000_003, 0)
        mkfifo(t.p("fifo"), 0o640)
        t.times("fifo", 1_650_000_004, 0)
    }

    @Test func treeToTarToTreeIsIdentical() throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        let source = tmp.directory("source"), dest = tmp.directory("dest")
        Self.makeTree(source)
        let sink = try FileSink(creating: tmp["tree.tar"])
        try TreeArchive.create(from: source, to: sink, preserveSubsecondTimes: true)
        sink.close()
        let summary = try TreeArchive.extract(from: tmp["tree.tar"], into: dest)
        #expect(summary.warnings.isEmpty, "\(summary.warnings)")
        var expected = try snapshot(source), actual = try snapshot(dest)
        // The root directory itself is not an entry of a layer.
        expected["."] = nil
        actual["."] = nil
        #expect(actual == expected)
        for key in Set(expected.keys).union(actual.keys) where expected[key] != actual[key] {
            Issue.record("\(key): expected \(expected[key] ?? "nothing"), got \(actual[key] ?? "nothing")")
        }
        #expect(summary.bytes > 0)
        // The second name of the inode is a hardlink entry, not a second copy.
        let list = try entries(ofTar: tmp["tree.tar"])
        let linked = try #require(list.first { $0.path == "data-link" })
        #expect(linked.kind == .hardlink && linked.linkTarget == "data")
    }

    @Test func entriesCarryEveryField() throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        let source = tmp.directory("source")
        Self.makeTree(source)
        let sink = MemorySink()
        try TreeArchive.create(from: source, to: sink, preserveSubsecondTimes: true)
        let list = try entries(ofTar: sink.bytes)
        let byPath = Dictionary(uniqueKeysWithValues: list.map { ($0.path, $0) })
        #expect(list.map(\.path) == list.map(\.path).sorted { a, b in
            a.split(separator: "/").map { Array($0.utf8) }.lexicographicallyPrecedes(b.split(separator: "/").map { Array($0.utf8) }) { $0.lexicographicallyPrecedes($1) }
        })
        #expect(byPath["bin/tool"]?.permissions == 0o4755)
        #expect(byPath["bin/group-tool"]?.permissions == 0o2711 && byPath["bin/group-tool"]?.gid == 1)
        #expect(byPath["empty"]?.permissions == 0o1777 && byPath["empty"]?.kind == .directory)
        #expect(byPath["home/user"]?.uid == 1000)
        #expect(byPath["home/user/notes.txt"]?.modificationTime == Timestamp(seconds: 1_600_000_000, nanoseconds: 123_456_789))
        #expect(byPath["home/user/notes.txt"]?.size == 5)
        #expect(byPath["home/user/ünïcødé-文件.txt"] != nil)
        #expect(byPath["link-abs"]?.kind == .symlink && byPath["link-abs"]?.linkTarget == "/etc/passwd")
        #expect(byPath["attrs"]?.xattrs["user.comment"] == Array("hello".utf8))
        #expect(byPath["fifo"]?.kind == .fifo)
        #expect(list.allSatisfy { $0.userName == nil && $0.groupName == nil })
    }

    @Test(.needs(.tar))
    func gnuTarReadsWhatWeWrite() throws {
        try Prerequisite.require(.tar)
        let tmp = try TemporaryDirectory("img-archive-test")
        let source = tmp.directory("source"), dest = tmp.directory("dest")
        Self.makeTree(source)
        let sink = try FileSink(creating: tmp["tree.tar"])
        try TreeArchive.create(from: source, to: sink)
        sink.close()
        let extracted = try run(["tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", tmp["tree.tar"], "-C", dest])
        #expect(extracted.status == 0)
        var expected = try snapshot(source, includeTimes: false), actual = try snapshot(dest, includeTimes: false)
        expected["."] = nil
        actual["."] = nil
        #expect(actual == expected)
    }

    @Test(.needs(.tar))
    func weReadWhatGnuTarWrites() throws {
        try Prerequisite.require(.tar)
        let tmp = try TemporaryDirectory("img-archive-test")
        let source = tmp.directory("source"), dest = tmp.directory("dest")
        Self.makeTree(source)
        let made = try run(["tar", "--xattrs", "--xattrs-include=user.*", "--numeric-owner", "--format=posix", "-cf", tmp["gnu.tar"], "-C", source, "."])
        #expect(made.status == 0)
        _ = try TreeArchive.extract(from: tmp["gnu.tar"], into: dest)
        var expected = try snapshot(source, includeTimes: false), actual = try snapshot(dest, includeTimes: false)
        expected["."] = nil
        actual["."] = nil
        #expect(actual == expected)
    }
}
