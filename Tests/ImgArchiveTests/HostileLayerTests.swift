import Glibc
import ImgArchive
import ImgSystem
import Testing
import ImgTestSupport

/// Layers built to escape the root. Each runs in a parent directory holding the root and an `outside`
/// directory; afterwards nothing outside the root may have changed.
@Suite struct HostileLayerTests {
    enum Step {
        case file(String, String = "pwned")
        case dir(String)
        case symlink(String, String)
        case hardlink(String, String)
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var steps: [Step]
        /// nil: the apply may succeed as long as everything stayed inside; otherwise the expected code.
        var error: ArchiveError.Code?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "dot-dot path", steps: [.file("../outside/x")], error: .escapesRoot),
        Case(name: "deep dot-dot", steps: [.dir("a"), .file("a/../../outside/x")], error: .escapesRoot),
        Case(name: "absolute path stays inside", steps: [.file("/outside/abs")]),
        Case(name: "write through absolute symlink", steps: [.symlink("link", "OUTSIDE"), .file("link/x")]),
        Case(name: "write through relative symlink", steps: [.symlink("link", "../outside"), .file("link/x")]),
        Case(name: "write through ../../.. symlink", steps: [.symlink("link", "../../../../../../OUTSIDE"), .file("link/x")]),
        Case(name: "symlink chain out", steps: [.dir("d"), .symlink("d/up", ".."), .symlink("d/up2", "up/.."), .file("d/up2/outside/x")]),
        Case(name: "hardlink to /etc/passwd", steps: [.hardlink("pw", "/etc/passwd")], error: .badHardlink),
        Case(name: "hardlink to ../x", steps: [.hardlink("x", "../outside/target")], error: .escapesRoot),
        Case(name: "hardlink through symlink out", steps: [.symlink("link", "OUTSIDE"), .hardlink("x", "link/target")], error: .badHardlink),
        Case(name: "file replaces symlinked directory", steps: [.symlink("dir", "OUTSIDE"), .file("dir", "replaced")]),
        Case(name: "directory replaces symlinked directory", steps: [.symlink("dir", "OUTSIDE"), .dir("dir"), .file("dir/x")]),
        Case(name: "symlink loop", steps: [.symlink("a", "b"), .symlink("b", "a"), .file("a/x")], error: .unresolvable),
        Case(name: "symlink to itself", steps: [.symlink("self", "self"), .file("self/x")], error: .unresolvable),
        Case(name: "whiteout through symlink", steps: [.symlink("link", "OUTSIDE"), .file("link/.wh.target")]),
        Case(name: "opaque through symlink", steps: [.symlink("link", "OUTSIDE"), .file("link/.wh..wh..opq")]),
        Case(name: "whiteout of dot-dot", steps: [.file(".wh..."), .file("a/.wh..")]),
    ]

    @Test(arguments: cases) func staysInsideTheRoot(_ c: Case) throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        let root = tmp.directory("root")
        let outside = tmp.directory("outside")
        TreeBuilder(root: outside).file("target", "secret")
        let before = try listing(tmp.path, excluding: "root")
        let passwd = try snapshot("/etc/passwd")

        let sink = MemorySink()
        let tar = try TarWriter(sink: sink)
        for step in c.steps {
            switch step {
            case .file(let path, let text): try tar.write(TarEntry(path: path, kind: .regular), contents: Array(text.utf8))
            case .dir(let path): try tar.write(TarEntry(path: path, kind: .directory, permissions: 0o755), contents: [])
            case .symlink(let path, let target):
                try tar.writeHeader(TarEntry(path: path, kind: .symlink, linkTarget: target.replacingOccurrences(of: "OUTSIDE", with: outside)))
            case .hardlink(let path, let target): try tar.writeHeader(TarEntry(path: path, kind: .hardlink, linkTarget: target))
            }
        }
        try tar.finish()
        do {
            _ = try LayerApplier.apply(TarReader(source: MemorySource(sink.bytes), label: "layer test"), to: root)
            #expect(c.error == nil, "expected \(String(describing: c.error))")
        } catch {
            #expect(error.code == c.error, "\(error)")
            #expect(error.description.hasPrefix("layer test: entry \""), "\(error)")
        }
        #expect(try listing(tmp.path, excluding: "root") == before)
        #expect(TreeBuilder(root: outside).read("target") == "secret")
        #expect(try snapshot("/etc/passwd") == passwd)
    }

    @Test func preexistingSymlinkInTheRootIsNotFollowedOut() throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        let root = tmp.directory("root")
        let outside = tmp.directory("outside")
        symlink(outside, root + "/etc")
        let sink = MemorySink()
        let tar = try TarWriter(sink: sink)
        try tar.write(TarEntry(path: "etc/passwd", kind: .regular), contents: Array("root:x:0:0".utf8))
        try tar.finish()
        _ = try LayerApplier.apply(TarReader(source: MemorySource(sink.bytes)), to: root)
        #expect(try listing(outside).isEmpty)
        // Followed as if the root were `/`: the absolute target lands inside the root.
        #expect(TreeBuilder(root: root).read(String(outside.dropFirst()) + "/passwd") == "root:x:0:0")
    }

    @Test func errorNamesArchiveAndEntry() throws {
        let sink = MemorySink()
        let tar = try TarWriter(sink: sink)
        try tar.write(TarEntry(path: "../x", kind: .regular), contents: [])
        try tar.finish()
        let tmp = try TemporaryDirectory("img-archive-test")
        let error = try #require(throws: ArchiveError.self) {
            try LayerApplier.apply(TarReader(source: MemorySource(sink.bytes), label: "layer sha256:abc"), to: tmp.directory("root"))
        }
        #expect(error.description == "layer sha256:abc: entry \"../x\" escapes the root")
        #expect(error.code == .escapesRoot)
    }
}
