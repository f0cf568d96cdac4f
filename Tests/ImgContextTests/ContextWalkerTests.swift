import Foundation
import Glibc
import ImgContext
import ImgDockerfile
import Testing
import ImgTestSupport

@Suite struct ContextWalkerTests {
    private let fm = FileManager.default

    private func withTree(_ body: (URL) throws -> Void) throws {
        let root = try TemporaryDirectory("img-ctx")
        defer { root.remove() }
        try body(root.url)
    }

    private func file(_ root: URL, _ path: String, _ content: String = "x") throws {
        let url = root.appending(path: path)
        try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(content.utf8).write(to: url)
    }

    private func listing(_ root: URL, _ patterns: [String]) throws -> [String] {
        try ContextWalker(root: root.path, matcher: IgnoreMatcher(patterns: patterns)).walk().map(\.description)
    }

    @Test func symlinksAreListedNotFollowed() throws {
        try withTree { root in
            let outside = root.appending(path: "outside")
            try file(outside, "secret")
            let ctx = root.appending(path: "ctx")
            try file(ctx, "real/a")
            try fm.createSymbolicLink(atPath: ctx.appending(path: "linkdir").path, withDestinationPath: outside.path)
            try fm.createSymbolicLink(atPath: ctx.appending(path: "linkfile").path, withDestinationPath: "real/a")
            try fm.createSymbolicLink(atPath: ctx.appending(path: "dangling").path, withDestinationPath: "nope")
            #expect(try listing(ctx, []) ==
                    ["symlink dangling", "symlink linkdir", "symlink linkfile", "dir real", "file real/a"])
            // Patterns see the link's own path; `linkdir/**` has nothing to match under a link.
            #expect(try listing(ctx, ["linkdir/**", "linkfile"]) ==
                    ["symlink dangling", "symlink linkdir", "dir real", "file real/a"])
        }
    }

    @Test func orderIsPerDirectoryByteOrder() throws {
        try withTree { root in
            for p in ["foo/x", "foo-a", "Foo", "é", "z"] { try file(root, p) }
            #expect(try listing(root, []) == ["file Foo", "dir foo", "file foo/x", "file foo-a", "file z", "file é"])
        }
    }

    @Test func emptyAndExcludedDirectories() throws {
        try withTree { root in
            try fm.createDirectory(at: root.appending(path: "empty"), withIntermediateDirectories: true)
            try file(root, "build/out/bin")
            try file(root, "src/main.go")
            try file(root, "src/main_test.go")
            #expect(try listing(root, ["build", "src/*_test.go"]) == ["dir empty", "dir src", "file src/main.go"])
            // An exception that finds nothing leaves the excluded directory out entirely.
            #expect(try listing(root, ["build", "!build/missing"]) ==
                    ["dir empty", "dir src", "file src/main.go", "file src/main_test.go"])
            // Wildcard exceptions reach into excluded directories; only the parents of survivors are listed.
            #expect(try listing(root, ["*", "!**/*.go"]) ==
                    ["dir src", "file src/main.go", "file src/main_test.go"])
        }
    }

    @Test func nonUTF8NamesFailUnlessExcluded() throws {
        try withTree { root in
            try file(root, "ok")
            // "bad\xff" cannot be spelled as a Swift String; create it through the byte-level API.
            let bytes = Array(root.path.utf8) + Array("/bad".utf8) + [0xFF, 0]
            let fd = bytes.withUnsafeBufferPointer { p in
                p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                    open($0, O_CREAT | O_WRONLY, 0o644)
                }
            }
            try #require(fd >= 0)
            close(fd)
            #expect(throws: ContextError.self) { try listing(root, []) }
            #expect(try listing(root, ["bad*"]) == ["file ok"])
        }
    }

    @Test func missingRootIsAContextError() {
        #expect(throws: ContextError.self) {
            try ContextWalker(root: "/nonexistent-\(UUID().uuidString)").walk()
        }
    }
}
