import Glibc
import ImgContext
import Testing
import ImgTestSupport

private func sourceFixture() -> Fixture {
    let f = Fixture()
    f.context
        .file("a.txt", "a", mode: 0o600, uid: 1000, gid: 1000, mtime: 1_500_000_000)
        .file("b.txt", "b").file("c.md", "c")
        .file("dir/x.txt", "x", mode: 0o755).file("dir/sub/y.txt", "y")
        .dir("dir", mode: 0o750, mtime: 1_400_000_000)
        .symlink("links/rel", to: "../a.txt").symlink("links/out", to: "/etc/passwd")
        .file("ignored.log", "log").file(".dockerignore", "*.log\n")
    return f
}

struct CopyDestinationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var sources: [String]
        var destination: String
        /// Directories made in the rootfs first.
        var existing: [String] = []
        var expected: [String]
        var testDescription: String { "COPY \(sources.joined(separator: " ")) \(destination)" }
    }

    static let cases: [Case] = [
        Case(sources: ["a.txt"], destination: "/dst", expected: ["dst"]),
        Case(sources: ["a.txt"], destination: "/dst/", expected: ["dst/", "dst/a.txt"]),
        Case(sources: ["a.txt"], destination: "/dst/.", expected: ["dst/", "dst/a.txt"]),
        Case(sources: ["a.txt"], destination: "/existing", existing: ["existing"], expected: ["existing/", "existing/a.txt"]),
        Case(sources: ["a.txt"], destination: "/x/y/z/", expected: ["x/", "x/y/", "x/y/z/", "x/y/z/a.txt"]),
        Case(sources: ["dir"], destination: "/dst", expected: ["dst/", "dst/sub/", "dst/sub/y.txt", "dst/x.txt"]),
        Case(sources: ["dir/"], destination: "/", expected: ["sub/", "sub/y.txt", "x.txt"]),
        Case(sources: ["a.txt", "b.txt"], destination: "/dst/", expected: ["dst/", "dst/a.txt", "dst/b.txt"]),
        Case(sources: ["*.txt"], destination: "/dst/", expected: ["dst/", "dst/a.txt", "dst/b.txt"]),
        // A wildcard that matches one file behaves as that file.
        Case(sources: ["*.md"], destination: "/one", expected: ["one"]),
        Case(sources: ["links"], destination: "/l/", expected: ["l/", "l/out -> /etc/passwd", "l/rel -> ../a.txt"]),
        Case(sources: ["*.md", "dir"], destination: "/m/", expected: ["m/", "m/c.md", "m/sub/", "m/sub/y.txt", "m/x.txt"]),
        Case(sources: ["."], destination: "/app/", expected: [
            "app/", "app/.dockerignore", "app/a.txt", "app/b.txt", "app/c.md", "app/dir/", "app/dir/sub/", "app/dir/sub/y.txt",
            "app/dir/x.txt", "app/links/", "app/links/out -> /etc/passwd", "app/links/rel -> ../a.txt",
        ]),
    ]

    @Test(arguments: cases)
    func copies(_ c: Case) throws {
        let f = sourceFixture()
        for d in c.existing { f.rootfs.dir(d) }
        try f.copy(c.sources, c.destination)
        #expect(f.rootfs.listing() == c.expected)
    }

    /// As BuildKit does (the "must be a directory" error is the legacy builder's): several sources to a
    /// destination without `/` are each written to it, in order, the last one staying.
    @Test func severalSourcesToAFileDestinationLeaveTheLast() throws {
        for sources in [["a.txt", "b.txt"], ["*.txt"]] {
            let f = sourceFixture()
            try f.copy(sources, "/dst")
            #expect(f.rootfs.listing() == ["dst"])
            #expect(f.rootfs.text("dst") == "b")
        }
    }

    @Test func contentMetadataAndOwnership() throws {
        let f = sourceFixture()
        try f.copy(["a.txt", "dir"], "/d/")
        #expect(f.rootfs.text("d/a.txt") == "a")
        #expect(f.rootfs.mode("d/a.txt") == 0o600)
        #expect(f.rootfs.mtime("d/a.txt") == 1_500_000_000)
        // The context's owners are never copied.
        #expect(f.rootfs.owner("d/a.txt") == "0:0")
        #expect(f.rootfs.mode("d/x.txt") == 0o755)
        // The destination existed (made for the first source), so the directory's own metadata is not copied.
        #expect(f.rootfs.mode("d") == 0o755)
        try f.copy(["dir"], "/fresh")
        #expect(f.rootfs.mode("fresh") == 0o750)
        #expect(f.rootfs.mtime("fresh") == 1_400_000_000)
        #expect(f.rootfs.mode("fresh/sub") == 0o755)
    }

    @Test func aStageSourceKeepsItsOwners() throws {
        let f = Fixture()
        let stage = Tree(root: f.scratch.directory("stage"))
        stage.file("app/bin", "bin", mode: 0o4755, uid: 1000, gid: 50).dir("app/data", uid: 33, gid: 33)
        let selection = try CopySelection.select(["/app"], in: SourceTree.directory(stage.root))
        try CopyOperation.copy(selection, into: f.rootfs.root, destination: "/opt/", options: CopyOptions())
        #expect(f.rootfs.owner("opt/bin") == "1000:50")
        #expect(f.rootfs.mode("opt/bin") == 0o4755)
        #expect(f.rootfs.owner("opt/data") == "33:33")
    }

    @Test func aFileReplacesWhatIsThereButNotADirectory() throws {
        let f = sourceFixture()
        f.rootfs.file("dst/a.txt", "old").symlink("dst/b.txt", to: "/etc/shadow")
        try f.copy(["a.txt", "b.txt"], "/dst/")
        #expect(f.rootfs.text("dst/a.txt") == "a")
        #expect(!f.rootfs.isSymlink("dst/b.txt"))
        #expect(f.rootfs.text("dst/b.txt") == "b")
        f.rootfs.dir("blocked/a.txt")
        #expect(contextError { try f.copy(["a.txt"], "/blocked/") }?.code == .invalidDestination)
        f.rootfs.file("plain", "file")
        #expect(contextError { try f.copy(["dir"], "/plain") }?.description == "COPY failed: cannot copy to non-directory: /plain")
    }

    @Test func hardLinksStayLinked() throws {
        let f = sourceFixture()
        f.context.file("h/one", "same")
        link(f.context.p("h/one"), f.context.p("h/two"))
        try f.copy(["h"], "/h")
        let one = try #require(f.rootfs.lstatus("h/one")), two = try #require(f.rootfs.lstatus("h/two"))
        #expect(one.st_ino == two.st_ino)
        #expect(f.rootfs.text("h/two") == "same")
    }

    @Test func heredocs() throws {
        let f = Fixture()
        try CopyOperation.writeHeredoc(name: "EOF", content: "hello\n", into: f.rootfs.root, destination: "/app/",
                                       options: CopyOptions())
        #expect(f.rootfs.text("app/EOF") == "hello\n")
        #expect(f.rootfs.mode("app/EOF") == 0o644)
        #expect(f.rootfs.owner("app/EOF") == "0:0")
        try CopyOperation.writeHeredoc(name: "EOF", content: "#!/bin/sh\n", into: f.rootfs.root, destination: "/app/run.sh",
                                       options: CopyOptions(chown: "7:8", chmod: "755"))
        #expect(f.rootfs.text("app/run.sh") == "#!/bin/sh\n")
        #expect(f.rootfs.mode("app/run.sh") == 0o755)
        #expect(f.rootfs.owner("app/run.sh") == "7:8")
    }
}

struct CopyOwnershipAndModeTests {
    static func rootfsWithUsers(_ f: Fixture) {
        f.rootfs.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:App:/home/app:/bin/sh\n")
            .file("etc/group", "root:x:0:\napp:x:1001:\nstaff:x:2000:app\n")
    }

    @Test(arguments: [
        ("app", "1000:1001"), ("app:staff", "1000:2000"), ("1234", "1234:1234"), ("1234:staff", "1234:2000"),
        ("app:7", "1000:7"), ("0:0", "0:0"), ("root", "0:0"),
    ])
    func chown(_ spec: String, _ expected: String) throws {
        let f = sourceFixture()
        Self.rootfsWithUsers(f)
        try f.copy(["a.txt", "dir"], "/new/place/", options: CopyOptions(chown: spec))
        #expect(f.rootfs.owner("new/place/a.txt") == expected)
        #expect(f.rootfs.owner("new/place/sub/y.txt") == expected)
        // Parent directories the copy creates belong to that owner too.
        #expect(f.rootfs.owner("new") == expected)
        #expect(f.rootfs.owner("new/place") == expected)
    }

    @Test func unknownNamesFail() throws {
        let f = sourceFixture()
        Self.rootfsWithUsers(f)
        #expect(contextError { try f.copy(["a.txt"], "/d/", options: CopyOptions(chown: "ghost")) }?.code == .invalidOption)
        #expect(contextError { try f.copy(["a.txt"], "/d/", options: CopyOptions(chown: "app:ghosts")) }?.code == .invalidOption)
        #expect(!f.rootfs.exists("d"))
    }

    @Test func chmodOctalAndSymbolic() throws {
        let f = sourceFixture()
        try f.copy(["a.txt", "dir"], "/octal/", options: CopyOptions(chmod: "0640"))
        #expect(f.rootfs.mode("octal/a.txt") == 0o640)
        #expect(f.rootfs.mode("octal/sub") == 0o640)
        try f.copy(["a.txt", "dir"], "/sym/", options: CopyOptions(chmod: "u=rwX,go=rX"))
        #expect(f.rootfs.mode("sym/a.txt") == 0o644)
        #expect(f.rootfs.mode("sym/x.txt") == 0o755)
        #expect(f.rootfs.mode("sym/sub") == 0o755)
        try f.copy(["a.txt"], "/plus", options: CopyOptions(chmod: "+x"))
        #expect(f.rootfs.mode("plus") == 0o711)
        #expect(contextError { try f.copy(["a.txt"], "/bad", options: CopyOptions(chmod: "u=rwz")) }?.code == .invalidOption)
        #expect(contextError { try f.copy(["a.txt"], "/bad", options: CopyOptions(chmod: "99")) }?.code == .invalidOption)
    }

    @Test(arguments: [
        ("755", 0o644, false, 0o755), ("0644", 0o755, true, 0o644), ("4755", 0o644, false, 0o4755),
        ("+x", 0o644, false, 0o755), ("a-w", 0o666, false, 0o444), ("go-rwx", 0o755, false, 0o700),
        ("u=rwX,go=rX", 0o600, false, 0o644), ("u=rwX,go=rX", 0o700, false, 0o755), ("u=rwX,go=rX", 0o700, true, 0o755),
        ("g=u", 0o640, false, 0o660), ("o=g", 0o750, false, 0o755), ("u+s", 0o755, false, 0o4755),
        ("+t", 0o777, true, 0o1777), ("u=rw,g=r,o=", 0o777, false, 0o640), ("a+rw,u-w", 0o000, false, 0o466),
    ] as [(String, UInt32, Bool, UInt32)])
    func modeChange(_ text: String, _ mode: UInt32, _ isDirectory: Bool, _ expected: UInt32) throws {
        let change = try ModeChange(parsing: text)
        #expect(change.apply(to: mode, isDirectory: isDirectory) == expected)
    }
}
