import Foundation
import ImgDockerfile
import Testing
import ImgTestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite struct IgnoreReadTests {
    @Test func crlfBomCommentsAndSlashes() {
        let text = "\u{FEFF}# comment\r\n  # not a comment\r\n//abs//x/\r\n/\r\n!  /keep/./me \r\n\r\n\tspaced\t\n"
        #expect(IgnoreFile.read(text) == ["# not a comment", "abs/x", "/", "!keep/me", "spaced"])
    }

    @Test func dotDotPatternsAreCleanedLexically() {
        #expect(IgnoreFile.read("a/../b\n../up\na/../../up2\n/../root\n!x/../y\n") ==
                ["b", "../up", "../up2", "root", "!y"])
    }

    @Test func linesAreCountedForErrors() {
        let entries = IgnoreFile.entries("# c\n\nfoo\n  \n!bar\n")
        #expect(entries == [.init(pattern: "foo", line: 3), .init(pattern: "!bar", line: 5)])
    }

    @Test func bytesWithBOM() {
        #expect(IgnoreFile.read([0xEF, 0xBB, 0xBF] + Array("#x\ny".utf8)) == ["y"])
    }
}

@Suite struct IgnoreMatcherTests {
    private func excluded(_ patterns: [String], _ path: String) throws -> Bool {
        try IgnoreMatcher(patterns: patterns).matches(path)
    }

    @Test func dotDotInPatterns() throws {
        #expect(try excluded(["a/../b"], "b"))
        #expect(try excluded(["a/../b"], "b/c"))
        #expect(try !excluded(["a/../b"], "a/b"))
        // A pattern escaping the context can never name a context path.
        #expect(try !excluded(["../x"], "x"))
        #expect(try excluded(["./docs/"], "docs/readme.md"))
    }

    @Test func doubleStarForms() throws {
        #expect(try excluded(["**/foo"], "foo"))
        #expect(try excluded(["**/foo"], "a/b/foo"))
        #expect(try !excluded(["**/foo"], "xfoo"))
        // Upstream's suffix test: `**name` matches any path ending in `name`.
        #expect(try excluded(["**foo"], "xfoo"))
        #expect(try excluded(["a/**/z"], "a/z"))
        #expect(try excluded(["a/**/z"], "a/b/c/z"))
        #expect(try !excluded(["a/**/z"], "a/bz"))
        #expect(try !excluded(["abc/**"], "abc"))
        #expect(try excluded(["abc/**"], "abc/d"))
    }

    @Test func classesAndEscapes() throws {
        #expect(try excluded(["[а-я]*"], "привет"))
        #expect(try !excluded(["[а-я]*"], "hello"))
        #expect(try excluded(["x[*]"], "x*"))
        #expect(try !excluded(["x[*]"], "xy"))
        #expect(try excluded(["a\\?"], "a?"))
        #expect(try !excluded(["a\\?"], "ab"))
        #expect(try excluded(["[z-a]x", "x"], "x"))
        #expect(try !excluded(["[z-a]"], "z"))
        // A negated class is not limited to one path segment (upstream's translation to `[^...]`).
        #expect(try excluded(["a[^x]b"], "a/b"))
        #expect(try excluded(["^*"], "^x"))
    }

    @Test func exceptionOrder() throws {
        #expect(try !excluded(["*.md", "!README.md"], "README.md"))
        #expect(try excluded(["!README.md", "*.md"], "README.md"))
        #expect(try excluded(["docs", "!docs/keep", "docs/keep/secret"], "docs/keep/secret"))
        #expect(try !excluded(["docs", "!docs/keep", "docs/keep/secret"], "docs/keep/public"))
    }

    @Test(arguments: [
        ("!", "illegal exclusion pattern"),
        ("[", "unterminated character class"),
        ("[^", "unterminated character class"),
        ("[]a]", "cannot start with ']'"),
        ("[-]", "cannot start with '-'"),
        ("[x-]", "cannot start with ']'"),
        ("[a-b-c]", "cannot start with '-'"),
        ("a\\", "trailing backslash"),
    ])
    func syntaxErrors(pattern: String, needle: String) {
        do {
            _ = try IgnoreMatcher(patterns: ["ok", pattern])
            Issue.record("\(pattern) should be rejected")
        } catch {
            #expect(error.code == "ignore")
            #expect(error.message.contains(needle), "\(error.message)")
        }
    }

    @Test func errorsNameTheFileAndLine() {
        do {
            _ = try IgnoreMatcher(ignoreFileText: "# header\nok\n\nbad[\n", file: "app/.dockerignore")
            Issue.record("should fail")
        } catch {
            #expect(error.file == "app/.dockerignore")
            #expect(error.line == 4)
            #expect(error.description.hasPrefix("app/.dockerignore:4: invalid pattern \"bad[\""))
        }
    }

    @Test func classification() throws {
        #expect(try IgnorePattern("a/b.c").matchType == .exact)
        #expect(try IgnorePattern("a/**").matchType == .prefix)
        #expect(try IgnorePattern("**/b").matchType == .suffix)
        #expect(try IgnorePattern("a/*/c").matchType == .regexp)
        #expect(try IgnorePattern("a\\b").matchType == .regexp)
        #expect(try IgnorePattern("**/a/**").matchType == .regexp)
    }

    /// Walking down with parent results must agree with matching the path and its ancestors directly,
    /// including where an exception skipped at a parent matters to a child.
    @Test func parentResultsAgreeWithDirectMatching() throws {
        let lists: [[String]] = [
            ["a", "!a/b", "a"],
            ["**", "!a/**", "a/b/*.go"],
            ["*.txt", "!keep/*.txt", "keep/secret*"],
            ["a/b", "!a", "a/b/c"],
            ["**/tmp", "!x/**/tmp/keep"],
        ]
        let paths = ["a", "a/b", "a/b/c", "a/b/c.go", "a/b/c/d.txt", "x/tmp/keep/f", "x/y/tmp/keep", "keep/a.txt",
                     "keep/secret.txt", "b.txt", "tmp", "x/tmp"]
        for list in lists {
            let matcher = try IgnoreMatcher(patterns: list)
            for path in paths {
                var info = IgnoreMatchInfo()
                let parts = path.split(separator: "/")
                for i in parts.indices.dropLast() {
                    info = matcher.matches(parts[...i].joined(separator: "/"), parent: info).info
                }
                #expect(matcher.matches(path, parent: info).excluded == matcher.matches(path), "\(list) \(path)")
            }
        }
    }

    @Test func reincludeDecision() throws {
        let m = try IgnoreMatcher(patterns: ["*", "!src/*.go", "!docs/keep", "!vendor/**"])
        #expect(m.mayReinclude(below: "src"))
        #expect(m.mayReinclude(below: "docs"))
        #expect(m.mayReinclude(below: "vendor"))
        #expect(m.mayReinclude(below: "vendor/x"))
        #expect(!m.mayReinclude(below: "docs/keep"))
        #expect(!m.mayReinclude(below: "src/sub"))
        #expect(!m.mayReinclude(below: "build"))
        #expect(try IgnoreMatcher(patterns: ["*", "!**/keep"]).mayReinclude(below: "any/dir"))
        #expect(try !IgnoreMatcher(patterns: ["*"]).mayReinclude(below: "any"))
    }

    @Test func legacySemantics() throws {
        #expect(try !IgnoreMatcher.legacyMatches(".", patterns: ["*"]))
        #expect(try IgnoreMatcher.legacyMatches("./a/b/../c", patterns: ["a/c"]))
        // Only the ancestor as deep as the pattern is tried.
        #expect(try IgnoreMatcher.legacyMatches("a/b/c", patterns: ["a/*"]))
        #expect(try !IgnoreMatcher.legacyMatches("a/b/c", patterns: ["b"]))
    }

    @Test func pathHelpers() {
        #expect(IgnorePath.clean("") == ".")
        #expect(IgnorePath.clean("/../a/./b//") == "/a/b")
        #expect(IgnorePath.clean("a/../..") == "..")
        #expect(IgnorePath.dir("a/b/c") == "a/b")
        #expect(IgnorePath.dir("file/") == "file")
        #expect(IgnorePath.dir("x") == ".")
    }
}

@Suite struct IgnoreFileLocationTests {
    private let fm = FileManager.default

    @Test func dockerfileSpecificFileWins() throws {
        let temporary = try TemporaryDirectory("img-loc")
        defer { temporary.remove() }
        let root = temporary.url
        let ctx = root.appending(path: "ctx")
        let elsewhere = root.appending(path: "files")
        try fm.createDirectory(at: ctx, withIntermediateDirectories: true)
        try fm.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        let dockerfile = ctx.appending(path: "Dockerfile").path
        let outsideDockerfile = elsewhere.appending(path: "app.Dockerfile").path

        #expect(IgnoreFile.location(contextDirectory: ctx.path, dockerfile: dockerfile) == nil)
        #expect(try IgnoreFile.matcher(contextDirectory: ctx.path, dockerfile: dockerfile).isEmpty)

        try Data("general\n".utf8).write(to: ctx.appending(path: ".dockerignore"))
        #expect(IgnoreFile.location(contextDirectory: ctx.path, dockerfile: dockerfile) == ctx.path + "/.dockerignore")
        #expect(IgnoreFile.location(contextDirectory: ctx.path + "/", dockerfile: dockerfile)
                == ctx.path + "/.dockerignore")

        try Data("specific\n".utf8).write(to: URL(filePath: dockerfile + ".dockerignore"))
        #expect(IgnoreFile.location(contextDirectory: ctx.path, dockerfile: dockerfile) == dockerfile + ".dockerignore")
        let m = try IgnoreFile.matcher(contextDirectory: ctx.path, dockerfile: dockerfile)
        #expect(m.matches("specific") && !m.matches("general"))

        // A Dockerfile outside the context uses the file next to it.
        try Data("[bad\n".utf8).write(to: URL(filePath: outsideDockerfile + ".dockerignore"))
        #expect(IgnoreFile.location(contextDirectory: ctx.path, dockerfile: outsideDockerfile)
                == outsideDockerfile + ".dockerignore")
        do {
            _ = try IgnoreFile.matcher(contextDirectory: ctx.path, dockerfile: outsideDockerfile)
            Issue.record("bad pattern should fail")
        } catch {
            #expect(error.file == outsideDockerfile + ".dockerignore")
            #expect(error.line == 1)
        }
    }
}
