import Glibc
import ImgContext
import Testing
import ImgTestSupport

/// A context with files, a directory tree, a class-looking name, symlinks and ignore rules.
private func standardFixture() -> Fixture {
    let f = Fixture()
    f.context
        .file("a.txt", "a").file("b.txt", "b").file("c.md", "c").file(".hidden", "h").file("arr[0].txt", "arr")
        .file("dir/x.txt", "x").file("dir/sub/y.txt", "y").file("dir/z.md", "z")
        .file("ignored.log", "log").file("docs/keep.md", "keep").file("docs/drop.md", "drop")
        .symlink("link-to-a", to: "a.txt")
        .file(".dockerignore", "*.log\ndocs\n!docs/keep.md\n")
    return f
}

struct SelectionTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var sources: [String]
        var excludes: [String] = []
        var parents = false
        var expected: [String]
        var testDescription: String { "\(parents ? "--parents " : "")\(excludes.map { "--exclude=\($0) " }.joined())\(sources)" }
    }

    static let cases: [Case] = [
        Case(sources: ["a.txt"], expected: ["a.txt"]),
        Case(sources: ["/a.txt"], expected: ["a.txt"]),
        Case(sources: ["../../a.txt"], expected: ["a.txt"]),
        Case(sources: ["*.txt"], expected: ["a.txt", "arr[0].txt", "b.txt"]),
        Case(sources: ["arr[[]0].txt"], expected: ["arr[0].txt"]),
        Case(sources: ["?.md"], expected: ["c.md"]),
        Case(sources: ["[ab].txt"], expected: ["a.txt", "b.txt"]),
        Case(sources: ["[^a].txt"], expected: ["b.txt"]),
        Case(sources: [".hid*"], expected: [".hidden"]),
        Case(sources: ["dir"], expected: ["dir", "  sub", "  sub/y.txt", "  x.txt", "  z.md"]),
        Case(sources: ["./dir/"], expected: ["dir", "  sub", "  sub/y.txt", "  x.txt", "  z.md"]),
        Case(sources: ["dir/*.txt"], expected: ["dir/x.txt"]),
        Case(sources: ["*/*.txt"], expected: ["dir/x.txt"]),
        Case(sources: ["*/s?b"], expected: ["dir/sub", "  y.txt"]),
        // The directory is ignored but one file is re-included: only that file is visible.
        Case(sources: ["docs"], expected: ["docs", "  keep.md"]),
        Case(sources: ["docs/*"], expected: ["docs/keep.md"]),
        Case(sources: ["*.log", "a.txt"], expected: ["a.txt"]),
        // A symlink named as a source is followed (inside the context) and keeps its name.
        Case(sources: ["link-to-a"], expected: ["a.txt"]),
        Case(sources: ["dir"], excludes: ["*.md"], expected: ["dir", "  sub", "  sub/y.txt", "  x.txt"]),
        Case(sources: ["dir"], excludes: ["sub"], expected: ["dir", "  x.txt", "  z.md"]),
        Case(sources: ["dir"], excludes: ["**/*.txt", "!sub/y.txt"], expected: ["dir", "  sub", "  sub/y.txt", "  z.md"]),
        Case(sources: ["*.txt", "*.md"], excludes: ["a*"], expected: ["b.txt", "c.md"]),
        Case(sources: ["dir/sub/y.txt"], parents: true, expected: [".", "  dir", "  dir/sub", "  dir/sub/y.txt"]),
        Case(sources: ["dir/./sub/*.txt"], parents: true, expected: ["dir", "  sub", "  sub/y.txt"]),
        Case(sources: ["dir/**/*.txt"], parents: true, expected: [".", "  dir", "  dir/sub", "  dir/sub/y.txt", "  dir/x.txt"]),
        Case(sources: ["dir/sub"], parents: true, expected: [".", "  dir", "  dir/sub", "  dir/sub/y.txt"]),
        Case(sources: ["*.md"], parents: true, expected: [".", "  c.md"]),
        Case(sources: ["d*/*.md"], parents: true, expected: [".", "  dir", "  dir/z.md", "  docs", "  docs/keep.md"]),
    ]

    @Test(arguments: cases)
    func selects(_ c: Case) throws {
        let f = standardFixture()
        #expect(try f.selected(c.sources, excludes: c.excludes, parents: c.parents) == c.expected)
    }

    @Test func aMatchedSymlinkKeepsItsNameButReadsItsTarget() throws {
        let f = standardFixture()
        let selection = try CopySelection.select(["link-to-a"], in: try f.tree(), followRootSymlinks: true)
        #expect(selection.roots.map(\.name) == ["link-to-a"])
        #expect(selection.roots.map(\.path) == ["a.txt"])
        let unfollowed = try CopySelection.select(["link-to-a"], in: try f.tree())
        #expect(unfollowed.roots.map(\.kind) == [.symlink])
    }

    @Test func wholeContextLeavesIgnoredFilesOut() throws {
        let f = standardFixture()
        let listed = try f.selected(["."])
        #expect(listed.contains("  a.txt"))
        #expect(listed.contains("  docs/keep.md"))
        #expect(!listed.contains("  ignored.log"))
        #expect(!listed.contains("  docs/drop.md"))
    }

    @Test func errorsNameWhatIsMissing() throws {
        let f = standardFixture()
        #expect(contextError { _ = try f.selected(["missing.txt"]) }?.description
            == "COPY failed: file not found in build context: missing.txt")
        #expect(contextError { _ = try f.selected(["a.txt", "missing/../../nope.txt"]) }?.description
            == "COPY failed: file not found in build context: nope.txt")
        #expect(contextError { _ = try f.selected(["ignored.log"]) }?.description
            == "COPY failed: file not found in build context or excluded by .dockerignore: ignored.log")
        #expect(contextError { _ = try f.selected(["docs/drop.md"]) }?.code == .notFound)
        // Wildcards matching nothing are an empty selection, as in BuildKit.
        #expect(try f.selected(["*.nomatch", "nothing*"]).isEmpty)
        #expect(contextError { _ = try f.selected(["[a-"]) }?.code == .invalidPattern)
        #expect(contextError { _ = try f.selected(["nope/./x"], parents: true) }?.code == .notFound)
        let error = contextError { _ = try f.selected(["missing.txt"]) }
        #expect(error?.reported(as: "ADD").description == "ADD failed: file not found in build context: missing.txt")
    }

    @Test func aSourceNamingOneFileDoesNotWalkTheContext() throws {
        let f = standardFixture()
        // A directory whose name is not UTF-8 makes any walk that reaches it fail; naming one file must not.
        f.context.dir("big")
        var bytes = Array((f.context.root + "/big/").utf8) + [0xff, 0xfe, 0]
        bytes.withUnsafeMutableBufferPointer { buffer in
            _ = buffer.withMemoryRebound(to: CChar.self) { mkdir($0.baseAddress!, 0o755) }
        }
        for i in 0..<200 { f.context.file("big/f\(i).txt", "\(i)") }
        #expect(try f.selected(["a.txt"]) == ["a.txt"])
        #expect(try f.selected(["big/f7.txt"]) == ["big/f7.txt"])
        #expect(contextError { _ = try f.selected(["."]) }?.message.contains("not valid UTF-8") == true)
    }

    @Test func aDockerfileSpecificIgnoreFileWins() throws {
        let f = standardFixture()
        f.context.file("build/app.Dockerfile", "FROM scratch\n").file("build/app.Dockerfile.dockerignore", "a.txt\n")
        let tree = try SourceTree.context(f.context.root, dockerfilePath: f.context.root + "/build/app.Dockerfile")
        #expect(contextError { _ = try CopySelection.select(["a.txt"], in: tree) }?.code == .notFound)
        // That file replaces .dockerignore entirely: *.log is visible again.
        #expect(try CopySelection.select(["ignored.log"], in: tree).roots.map(\.path) == ["ignored.log"])
    }

    @Test func aDirectoryTreeHasNoIgnoreRules() throws {
        let f = standardFixture()
        let tree = SourceTree.directory(f.context.root)
        let selection = try CopySelection.select(["/ignored.log", "/docs"], in: tree)
        #expect(selection.roots.map(\.path) == ["ignored.log", "docs"])
        #expect(selection.roots[1].contents.map(\.path) == ["drop.md", "keep.md"])
        #expect(contextError { _ = try CopySelection.select(["/missing"], in: tree) }?.description
            == "COPY failed: file not found: /missing")
    }
}
