import Foundation
import Glibc
import Testing
import ImgTestSupport

/// `ADD <git ref>` and a git URL as the build context, through the real binary against git servers the tests
/// start on 127.0.0.1: smart HTTP (`git http-backend`), `git daemon`, and sshd.
@Suite(.serialized, .needs(.busybox, .runc, .git, .python3)) struct GitSourceTests {
    func text(_ root: URL, _ path: String) -> String? { try? String(contentsOf: root.appending(path: path), encoding: .utf8) }

    func exists(_ root: URL, _ path: String) -> Bool {
        var info = stat()
        return lstat(root.appending(path: path).path, &info) == 0
    }

    func attributes(_ root: URL, _ path: String) -> (mode: UInt32, mtime: Int, uid: UInt32) {
        var info = stat()
        lstat(root.appending(path: path).path, &info)
        return (UInt32(info.st_mode & 0o7777), Int(info.st_mtim.tv_sec), info.st_uid)
    }

    func layerDigests(_ f: BuildFixture, _ image: String) throws -> [String] {
        let result = try f.img(["inspect", image])
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let layers = (json?["manifest"] as? [String: Any])?["layers"] as? [[String: Any]] ?? []
        return layers.compactMap { $0["digest"] as? String }
    }

    @Test func overHTTPWithSubdirSubmoduleKeepGitDirAndCache() async throws {
        try Prerequisite.require(.git, .python3)
        let server = try GitServer()
        defer { server.stop() }
        let port = try await server.startHTTP(token: "unused")
        let base = "http://127.0.0.1:\(port)"
        try server.commit("lib", ["lib.txt": "library\n"])
        try server.commit("app", ["a.txt": "one\n", "dir/b.txt": "bee\n", "run.sh": "#!/bin/sh\n"], executable: ["run.sh"])
        let commit = try server.addSubmodule("app", sub: "lib", url: "\(base)/lib.git", path: "lib")
        let commitTime = Int(try server.git(["show", "-s", "--format=%ct", commit], in: try server.workTree("app")))!

        let f = try BuildFixture()
        try f.write("Dockerfile", """
            FROM scratch
            ADD \(base)/app.git /src
            ADD \(base)/app.git#main:dir /sub/
            ADD --keep-git-dir=true \(base)/app.git#main /kept

            """)
        let first = try f.build(["-t", "git-http"])
        #expect(first.status == 0, "\(first.stderr)")
        let rootfs = try f.unpack("git-http")
        #expect(text(rootfs, "src/a.txt") == "one\n" && text(rootfs, "src/dir/b.txt") == "bee\n")
        #expect(text(rootfs, "src/lib/lib.txt") == "library\n", "the submodule is fetched")
        #expect(!exists(rootfs, "src/.git") && !exists(rootfs, "src/lib/.git"), "no .git without --keep-git-dir")
        #expect(text(rootfs, "sub/b.txt") == "bee\n" && !exists(rootfs, "sub/a.txt"), "the #ref:dir fragment")
        #expect(exists(rootfs, "kept/.git"), "--keep-git-dir keeps .git")
        let head = try server.git(["-c", "safe.directory=*", "-C", rootfs.appending(path: "kept").path, "rev-parse", "HEAD"])
        #expect(head == commit)
        // One commit, one set of files: modes from git's executable bit, mtimes the commit's, owners 0:0.
        #expect(attributes(rootfs, "src/run.sh").mode == 0o755 && attributes(rootfs, "src/a.txt").mode == 0o644)
        #expect(attributes(rootfs, "src/a.txt").mtime == commitTime && attributes(rootfs, "src/lib/lib.txt").mtime == commitTime)
        #expect(attributes(rootfs, "src/a.txt").uid == 0)

        // Built again from nothing, the same commit gives the same layers (those without a .git, whose index
        // holds inode numbers and times).
        let again = try f.build(["-t", "git-http-again", "--no-cache"])
        #expect(again.status == 0, "\(again.stderr)")
        let layers = try layerDigests(f, "git-http"), againLayers = try layerDigests(f, "git-http-again")
        #expect(layers.count == 3 && Array(layers.prefix(2)) == Array(againLayers.prefix(2)))

        // Unchanged branch: every ADD is CACHED and nothing is fetched again (only the refs are listed).
        let fetches = server.uploadPackRequests
        let second = try f.build(["-t", "git-http"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(BuildFixture.steps(second.stderr).cached.filter { $0.contains("] ADD ") }.count == 3, "\(second.stderr)")
        #expect(fetches > 0 && server.uploadPackRequests == fetches, "a hit does not clone")

        // The branch moved: the steps run again and see the new commit.
        try server.commit("app", ["a.txt": "two\n"])
        let third = try f.build(["-t", "git-http"])
        #expect(third.status == 0, "\(third.stderr)")
        #expect(BuildFixture.steps(third.stderr).ran.filter { $0.contains("] ADD ") }.count == 3, "\(third.stderr)")
        #expect(text(try f.unpack("git-http"), "src/a.txt") == "two\n")
    }

    @Test func privateOverHTTPNeedsTheTokenSecretAndLeavesItNowhere() async throws {
        try Prerequisite.require(.git, .python3)
        let server = try GitServer()
        defer { server.stop() }
        let token = "tok-\(UUID().uuidString)"
        let port = try await server.startHTTP(token: token)
        try server.commit("private/secret", ["s.txt": "hidden\n"])
        let url = "http://127.0.0.1:\(port)/private/secret.git"
        let f = try BuildFixture()
        try f.write("Dockerfile", "FROM scratch\nADD \(url) /s\n")

        let refused = try f.build(["-t", "git-private"])
        #expect(refused.status != 0)
        let line = refused.stderr.split(separator: "\n").first { $0.contains("Dockerfile:2") }.map(String.init) ?? ""
        #expect(line.contains("ADD \(url): cannot list its refs: authentication required"), "\(refused.stderr)")

        try f.dir.write("wrong", "not-the-token")
        let wrong = try f.build(["-t", "git-private", "--secret", "id=GIT_AUTH_TOKEN,src=\(f.dir.file("wrong"))"])
        #expect(wrong.status != 0)
        #expect(wrong.stderr.contains("Dockerfile:2: ADD \(url): cannot list its refs: authentication failed"), "\(wrong.stderr)")

        try f.dir.write("token", token)
        let built = try f.build(["-t", "git-private", "--secret", "id=GIT_AUTH_TOKEN,src=\(f.dir.file("token"))"])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(text(try f.unpack("git-private"), "s/s.txt") == "hidden\n")
        // The host-scoped secret name works too (and the token is not in the key: --no-cache to fetch again).
        let scoped = try f.build(["-t", "git-private", "--no-cache", "--secret", "id=GIT_AUTH_TOKEN.127.0.0.1,src=\(f.dir.file("token"))"])
        #expect(scoped.status == 0, "\(scoped.stderr)")
        // GIT_AUTH_HEADER: the whole Authorization value, here a bearer token.
        try f.dir.write("header", "bearer \(token)")
        let header = try f.build(["-t", "git-private", "--no-cache", "--secret", "id=GIT_AUTH_HEADER,src=\(f.dir.file("header"))"])
        #expect(header.status == 0, "\(header.stderr)")
        #expect(!header.stderr.contains(token))
        let log = try String(contentsOfFile: server.httpLog, encoding: .utf8)
        #expect(log.contains("git-upload-pack authorized fetch"))

        // The token is in no layer, config or output.
        let tar = f.dir.file("private.tar")
        #expect(try f.img(["save", "-o", tar, "git-private"]).status == 0)
        let grep = try SaveLoadTests.shell("tar -xOf '\(tar)' | grep -c '\(token)' || true")
        #expect(grep.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        #expect(!built.stderr.contains(token) && !scoped.stderr.contains(token) && !refused.stderr.contains(token))
        #expect(!(try f.img(["inspect", "git-private"]).stdout.contains(token)))
    }

    @Test func overGitProtocolWithTagsAndChecksum() async throws {
        try Prerequisite.require(.git, .python3)
        let server = try GitServer()
        defer { server.stop() }
        let port = try await server.startDaemon()
        let tagged = try server.commit("tagged", ["t.txt": "v1\n"])
        try server.tag("tagged", "v1")
        try server.commit("tagged", ["t.txt": "v2\n"])
        let url = "git://127.0.0.1:\(port)/tagged.git"
        let f = try BuildFixture()
        try f.write("Dockerfile", """
            FROM scratch
            ADD --checksum=\(tagged) \(url)#v1 /t
            ADD \(url) /head

            """)
        let built = try f.build(["-t", "git-daemon"])
        #expect(built.status == 0, "\(built.stderr)")
        let rootfs = try f.unpack("git-daemon")
        #expect(text(rootfs, "t/t.txt") == "v1\n", "the annotated tag's commit")
        #expect(text(rootfs, "head/t.txt") == "v2\n", "the remote HEAD by default")

        let zero = String(repeating: "0", count: 40)
        try f.write("Dockerfile", "FROM scratch\nADD --checksum=\(zero) \(url)#v1 /t\n")
        let mismatch = try f.build(["-t", "git-daemon"])
        #expect(mismatch.status != 0)
        #expect(mismatch.stderr.contains("Dockerfile:2: ADD \(url)#v1: checksum mismatch: expected commit \(zero), got \(tagged)"),
                "\(mismatch.stderr)")

        try f.write("Dockerfile", "FROM scratch\nADD \(url)#no-such-branch /t\n")
        let missing = try f.build(["-t", "git-daemon"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("Dockerfile:2: ADD \(url)#no-such-branch: ref no-such-branch not found"), "\(missing.stderr)")
    }

    @Test(.needs(.sshd, .sshKeygen)) func overSSHWithTheSSHAgentKey() async throws {
        try Prerequisite.require(.git, .sshd, .sshKeygen)
        let server = try GitServer()
        defer { server.stop() }
        let ssh = try await server.startSSH()
        try server.commit("remote", ["r.txt": "over ssh\n"])
        let url = "ssh://\(ssh.user)@127.0.0.1:\(ssh.port)\(server.root)/remote.git#main"
        let f = try BuildFixture()
        try f.write("Dockerfile", "FROM scratch\nADD \(url) /r\n")
        let built = try f.build(["-t", "git-ssh", "--ssh", "default=\(ssh.clientKey)"])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(text(try f.unpack("git-ssh"), "r/r.txt") == "over ssh\n")
    }

    @Test func aGitURLAsTheBuildContext() async throws {
        try Prerequisite.require(.git, .python3)
        let server = try GitServer()
        defer { server.stop() }
        let port = try await server.startHTTP(token: "unused")
        try server.commit("ctx", ["app/Dockerfile": "FROM scratch\nCOPY . /ctx/\n", "app/hello.txt": "hi\n", "top.txt": "top\n"])
        let f = try BuildFixture()
        let built = try f.build(["-t", "git-context"], contextPath: "http://127.0.0.1:\(port)/ctx.git#main:app")
        #expect(built.status == 0, "\(built.stderr)")
        let rootfs = try f.unpack("git-context")
        #expect(text(rootfs, "ctx/hello.txt") == "hi\n" && text(rootfs, "ctx/Dockerfile") != nil)
        #expect(!exists(rootfs, "ctx/top.txt") && !exists(rootfs, "ctx/.git"))

        let missing = try f.build(["-t", "git-context"], contextPath: "http://127.0.0.1:\(port)/nothing.git")
        #expect(missing.status != 0 && missing.stderr.contains("unable to prepare context: http://127.0.0.1:\(port)/nothing.git"),
                "\(missing.stderr)")
    }
}
