import Foundation
import Glibc
import ImgSystem
import Testing
import ImgTestSupport

/// Instruction flags and inputs of `img build` beyond the basics, each checked in the resulting image.
@Suite(.serialized, .needs(.busybox, .runc)) struct BuildFeatureTests {
    static let base = BuildTests.base

    @Test func runMountsCacheTmpfsBindAndSecret() throws {
        let f = try BuildFixture()
        try f.write("data/input.txt", "from the context\n")
        try f.write("secret.txt", "s3cr3t-value")
        try f.write("Dockerfile", Self.base + """
            ARG ROUND=1
            RUN --mount=type=cache,target=/cache echo "round $ROUND" >> /cache/log && cp /cache/log /cache-log
            RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/t && test -f /scratch/t && mkdir -p /scratch-check
            RUN --mount=type=bind,source=data,target=/in cp /in/input.txt /copied.txt
            RUN --mount=type=secret,id=token,target=/run/secrets/token sha256sum /run/secrets/token | cut -c1-64 > /secret-seen
            RUN --mount=type=secret,id=token,env=TOKEN echo -n "$TOKEN" | sha256sum | cut -c1-64 > /secret-env-seen
            RUN --network=none sh -c 'ls /sys/class/net' > /net
            """)
        let secret = "id=token,src=\(f.context.appending(path: "secret.txt").path)"
        let first = try f.build(["-t", "mounts", "--secret", secret, "--build-arg", "ROUND=1"])
        #expect(first.status == 0, "\(first.stderr)")
        let second = try f.build(["-t", "mounts", "--secret", secret, "--build-arg", "ROUND=2"])
        #expect(second.status == 0, "\(second.stderr)")
        let rootfs = try f.unpack("mounts")
        func text(_ path: String) -> String? { try? String(contentsOf: rootfs.appending(path: path), encoding: .utf8) }
        #expect(text("cache-log") == "round 1\nround 2\n", "the cache mount outlived the first build")
        #expect(!FileManager.default.fileExists(atPath: rootfs.appending(path: "cache/log").path))
        #expect(!FileManager.default.fileExists(atPath: rootfs.appending(path: "scratch/t").path))
        #expect(text("copied.txt") == "from the context\n")
        // The steps saw the value (its digest is what they wrote), and nothing else of it is anywhere.
        let expected = try SaveLoadTests.shell("printf %s s3cr3t-value | sha256sum | cut -c1-64").stdout
        #expect(text("secret-seen") == expected && text("secret-env-seen") == expected)
        #expect(text("net")?.trimmingCharacters(in: .whitespacesAndNewlines) == "lo", "only loopback with --network=none")
        #expect(!FileManager.default.fileExists(atPath: rootfs.appending(path: "run/secrets/token").path))
        // The secret's value is in no layer, no config and no log line.
        let tar = f.dir.url.appending(path: "mounts.tar").path
        #expect(try f.img(["save", "-o", tar, "mounts"]).status == 0)
        let grep = try SaveLoadTests.shell("tar -xOf '\(tar)' | grep -c s3cr3t-value || true")
        #expect(grep.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        #expect(!first.stderr.contains("s3cr3t-value") && !second.stderr.contains("s3cr3t-value"))
        // A missing required secret is a clear error.
        try f.write("Dockerfile", Self.base + "RUN --mount=type=secret,id=other,required=true true\n")
        let missing = try f.build(["-t", "x"])
        #expect(missing.status != 0 && missing.stderr.contains("secret other is required"), "\(missing.stderr)")
    }

    @Test func copyAddAndIgnoreRules() throws {
        let f = try BuildFixture()
        try f.write("app/main.txt", "main\n")
        try f.write("app/debug.log", "noise\n")
        try f.write("app/keep.log", "kept\n")
        try f.write(".dockerignore", "app/*.log\n!app/keep.log\n")
        // An archive ADD extracts.
        let tree = f.dir.url.appending(path: "tree")
        try FileManager.default.createDirectory(at: tree.appending(path: "pkg"), withIntermediateDirectories: true)
        try Data("packed\n".utf8).write(to: tree.appending(path: "pkg/file.txt"))
        #expect(try SaveLoadTests.shell("tar -C '\(tree.path)' -czf '\(f.context.appending(path: "pkg.tar.gz").path)' pkg").status == 0)
        try f.write("Dockerfile", Self.base + """
            RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' >> /etc/group
            COPY --chown=app:app app/ /app/
            COPY --chmod=u=rwx,go=rx app/main.txt /bin/main
            ADD pkg.tar.gz /opt/
            COPY --from=base-image /etc/passwd /from-image-passwd
            """.replacingOccurrences(of: "RUN echo", with: "RUN mkdir -p /etc && echo"))
        // COPY --from an image: build one first and refer to it by name.
        try FileManager.default.createDirectory(at: f.dir.url.appending(path: "other"), withIntermediateDirectories: true)
        try Data((Self.base + "RUN mkdir -p /etc && echo other-image > /etc/passwd\n").utf8)
            .write(to: f.dir.url.appending(path: "other/Dockerfile"))
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: f.dir.url.appending(path: "other/busybox").path)
        #expect(try f.build(["-t", "base-image"], contextPath: f.dir.url.appending(path: "other").path).status == 0)

        let result = try f.build(["-t", "copies"])
        #expect(result.status == 0, "\(result.stderr)")
        let rootfs = try f.unpack("copies")
        let fm = FileManager.default
        #expect(fm.fileExists(atPath: rootfs.appending(path: "app/main.txt").path))
        #expect(fm.fileExists(atPath: rootfs.appending(path: "app/keep.log").path))
        #expect(!fm.fileExists(atPath: rootfs.appending(path: "app/debug.log").path), ".dockerignore hides it")
        var info = stat()
        #expect(lstat(rootfs.appending(path: "app/main.txt").path, &info) == 0 && info.st_uid == 1000 && info.st_gid == 1000)
        #expect(lstat(rootfs.appending(path: "bin/main").path, &info) == 0 && info.st_mode & 0o777 == 0o755)
        #expect(try String(contentsOf: rootfs.appending(path: "opt/pkg/file.txt"), encoding: .utf8) == "packed\n")
        #expect(try String(contentsOf: rootfs.appending(path: "from-image-passwd"), encoding: .utf8) == "other-image\n")
    }

    @Test func dockerfileAndContextFromStdin() throws {
        let f = try BuildFixture()
        try f.write("hello.txt", "hi\n")
        let dockerfile = Self.base + "COPY hello.txt /hello.txt\n"
        let fromStdin = try f.build(["-t", "stdin-dockerfile", "-f", "-"], stdin: dockerfile)
        #expect(fromStdin.status == 0, "\(fromStdin.stderr)")
        try f.write("Dockerfile", dockerfile)
        let tar = f.dir.url.appending(path: "context.tar").path
        #expect(try SaveLoadTests.shell("tar -C '\(f.context.path)' -cf '\(tar)' .").status == 0)
        // The tar is binary: the shell feeds it, as a user would with `tar -c . | img build -`.
        let piped = try SaveLoadTests.shell("'\(ImgBinary.url.path)' -s '\(f.state)' build --progress plain -t stdin-context - < '\(tar)'")
        #expect(piped.status == 0, "\(piped.stderr)")
        let rootfs = try f.unpack("stdin-context")
        #expect(try String(contentsOf: rootfs.appending(path: "hello.txt"), encoding: .utf8) == "hi\n")
    }

    @Test func twoBuildsAtOnceShareTheStore() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.base + "ARG N\nRUN echo $N > /n && sleep 1\n")
        let img = "'\(ImgBinary.url.path)' -s '\(f.state)' build --progress plain"
        let script = """
            \(img) -t one --build-arg N=1 '\(f.context.path)' 2>/tmp/img-build-one.log & a=$!
            \(img) -t two --build-arg N=2 '\(f.context.path)' 2>/tmp/img-build-two.log & b=$!
            wait $a || { cat /tmp/img-build-one.log >&2; exit 1; }
            wait $b || { cat /tmp/img-build-two.log >&2; exit 1; }
            """
        let both = try SaveLoadTests.shell(script)
        #expect(both.status == 0, "\(both.stderr)")
        for (name, value) in [("one", "1\n"), ("two", "2\n")] {
            let rootfs = try f.unpack(name)
            #expect(try String(contentsOf: rootfs.appending(path: "n"), encoding: .utf8) == value)
        }
        // The shared base steps are cached for a third build.
        let third = try f.build(["-t", "three", "--build-arg", "N=1"])
        #expect(BuildFixture.steps(third.stderr).ran.isEmpty, "\(third.stderr)")
    }
}

extension BuildFeatureTests {
    @Test func onbuildTriggersRunInTheChildBuild() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.base + """
            ONBUILD RUN echo triggered > /onbuild
            ONBUILD COPY child.txt /child.txt
            """)
        try f.write("child.txt", "parent context\n")
        #expect(try f.build(["-t", "parent-image"]).status == 0)
        let parentConfig = try f.config("parent-image")
        #expect((parentConfig["config"] as? [String: Any])?["OnBuild"] as? [String] == ["RUN echo triggered > /onbuild", "COPY child.txt /child.txt"])

        try f.write("child.txt", "child context\n")
        try f.write("Dockerfile", "FROM parent-image\nRUN cat /onbuild /child.txt > /both\n")
        let child = try f.build(["-t", "child-image"])
        #expect(child.status == 0, "\(child.stderr)")
        let rootfs = try f.unpack("child-image")
        #expect(try String(contentsOf: rootfs.appending(path: "both"), encoding: .utf8) == "triggered\nchild context\n")
        let childConfig = try f.config("child-image")
        #expect((childConfig["config"] as? [String: Any])?["OnBuild"] == nil, "triggers are not inherited")
    }
}

extension BuildFeatureTests {
    @Test func addFetchesURLsAndChecksChecksums() throws {
        let f = try BuildFixture()
        let served = f.dir.url.appending(path: "served")
        try FileManager.default.createDirectory(at: served, withIntermediateDirectories: true)
        try Data("remote file\n".utf8).write(to: served.appending(path: "remote.txt"))
        // A real HTTP server on a free loopback port, started by the test.
        let port = try SaveLoadTests.shell("python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])'")
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let server = Process()
        server.executableURL = URL(filePath: "/usr/bin/python3")
        server.arguments = ["-m", "http.server", "--bind", "127.0.0.1", "--directory", served.path, port]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        // SIGKILL: a child of Foundation's Process inherits the test thread's blocked signals, SIGTERM too.
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        var up = false
        for _ in 0..<100 where !up {
            up = (try? SaveLoadTests.shell("python3 -c 'import urllib.request; urllib.request.urlopen(\"http://127.0.0.1:\(port)/remote.txt\")'").status) == 0
            if !up { usleep(100_000) }
        }
        try #require(up, "the test HTTP server did not start")
        let url = "http://127.0.0.1:\(port)/remote.txt"
        let digest = try SaveLoadTests.shell("sha256sum '\(served.appending(path: "remote.txt").path)' | cut -c1-64").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)

        try f.write("Dockerfile", Self.base + "ADD --checksum=sha256:\(digest) \(url) /downloads/\nADD \(url) /renamed.txt\n")
        let result = try f.build(["-t", "fetched"])
        #expect(result.status == 0, "\(result.stderr)")
        let rootfs = try f.unpack("fetched")
        #expect(try String(contentsOf: rootfs.appending(path: "downloads/remote.txt"), encoding: .utf8) == "remote file\n")
        #expect(try String(contentsOf: rootfs.appending(path: "renamed.txt"), encoding: .utf8) == "remote file\n")
        var info = stat()
        #expect(lstat(rootfs.appending(path: "renamed.txt").path, &info) == 0 && info.st_mode & 0o777 == 0o600)

        // Unchanged remote: cached; changed remote: the ADD runs again.
        let again = try f.build(["-t", "fetched"])
        #expect(BuildFixture.steps(again.stderr).ran.isEmpty, "\(again.stderr)")
        try Data("changed\n".utf8).write(to: served.appending(path: "remote.txt"))
        try f.write("Dockerfile", Self.base + "ADD \(url) /renamed.txt\n")
        let changed = try f.build(["-t", "fetched"])
        #expect(changed.status == 0)
        #expect(try String(contentsOf: try f.unpack("fetched").appending(path: "renamed.txt"), encoding: .utf8) == "changed\n")

        // A wrong checksum is an error naming the line.
        try f.write("Dockerfile", Self.base + "ADD --checksum=sha256:\(String(repeating: "0", count: 64)) \(url) /x\n")
        let wrong = try f.build(["-t", "wrong"])
        #expect(wrong.status != 0 && wrong.stderr.contains("Dockerfile:4: ADD \(url): checksum mismatch"), "\(wrong.stderr)")
    }

    /// `--ssh`: a key file (loaded into an ssh-agent img starts) and an agent socket the user runs, reached
    /// from RUN through `--mount=type=ssh` with BuildKit's defaults; the real `ssh-add` in the image lists
    /// the key. The image holds no key, no socket, no agent path.
    @Test func sshMountsReachTheAgent() throws {
        let f = try BuildFixture()
        // ssh-add and the libraries it loads, at their host paths.
        let copied = try SaveLoadTests.shell("""
            set -e; cd '\(f.context.path)'
            for file in /usr/bin/ssh-add $(ldd /usr/bin/ssh-add | grep -o '/[^ ]*'); do
              mkdir -p "root$(dirname "$file")"; cp -L "$file" "root$file"; done
            """)
        try #require(copied.status == 0, "ssh-add not found: install Debian package openssh-client (\(copied.stderr))")
        let key = f.dir.url.appending(path: "id_test").path
        try #require(try SaveLoadTests.shell("ssh-keygen -q -t ed25519 -N '' -C img-test-key -f '\(key)'").status == 0)
        let fingerprint = try SaveLoadTests.shell("ssh-keygen -lf '\(key).pub' | cut -d' ' -f2").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try f.write("Dockerfile", Self.base + """
            COPY root/ /
            RUN --mount=type=ssh ssh-add -l > /default-keys; echo "$SSH_AUTH_SOCK" > /sock
            RUN --mount=type=ssh,id=deploy,target=/agent,uid=1000,mode=0660 ls -ln /agent > /agent-listing && SSH_AUTH_SOCK=/agent ssh-add -l > /deploy-keys
            RUN --mount=type=ssh,id=absent ls /run/buildkit > /absent 2>&1 || echo none > /absent
            """)
        // The user's own agent, holding the key, for `default`.
        let agentSocket = f.dir.url.appending(path: "user-agent.sock").path
        let agent = try ChildProcess(executable: "/usr/bin/ssh-agent", arguments: ["-D", "-a", agentSocket],
                                     environment: ["PATH=/usr/bin:/bin"], stdin: .null, stdout: .null, stderr: .null)
        defer { kill(agent.pid, SIGKILL); _ = try? agent.wait() }
        var waited = 0
        while access(agentSocket, F_OK) != 0 && waited < 500 { usleep(10_000); waited += 1 }
        let added = try ChildProcess.collect(executable: "/usr/bin/ssh-add", arguments: ["-q", key],
                                             environment: ["SSH_AUTH_SOCK=\(agentSocket)"])
        try #require(added.status.isSuccess, "\(added.stderr)")

        let result = try ImgBinary.run(["-s", f.state, "build", "--progress", "plain", "-t", "ssh",
                                        "--ssh", "default", "--ssh", "deploy=\(key)", f.context.path],
                                       environment: ["SSH_AUTH_SOCK": agentSocket])
        #expect(result.status == 0, "\(result.stderr)")
        let rootfs = try f.unpack("ssh")
        func text(_ path: String) -> String {
            (try? String(contentsOf: rootfs.appending(path: path), encoding: .utf8)) ?? ""
        }
        #expect(!fingerprint.isEmpty && text("default-keys").contains(fingerprint), "\(text("default-keys"))")
        #expect(text("deploy-keys").contains(fingerprint), "\(text("deploy-keys"))")
        #expect(text("sock") == "/run/buildkit/ssh_agent.0\n")
        #expect(text("agent-listing").hasPrefix("srw-rw----") && text("agent-listing").contains(" 1000 "), "\(text("agent-listing"))")
        #expect(text("absent").contains("No such file") || text("absent") == "none\n", "no --ssh absent, no socket")
        #expect(!FileManager.default.fileExists(atPath: rootfs.appending(path: "run/buildkit").path))
        #expect(!FileManager.default.fileExists(atPath: rootfs.appending(path: "agent").path))
        // The private key is in no layer or config.
        let tar = f.dir.url.appending(path: "ssh.tar").path
        #expect(try f.img(["save", "-o", tar, "ssh"]).status == 0)
        let keyLine = try String(contentsOfFile: key, encoding: .utf8).split(separator: "\n")[1]
        let grep = try SaveLoadTests.shell("tar -xOf '\(tar)' | grep -c -F '\(keyLine)' || true")
        #expect(grep.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        // The agent img started for the key file is gone.
        let agents = try SaveLoadTests.shell("pgrep -f '^/usr/bin/ssh-agent -D -a .*/img-agent-' || true")
        #expect(agents.stdout.isEmpty, "\(agents.stdout)")

        // Required but not given; a key that does not exist; no agent at all.
        try f.write("Dockerfile", Self.base + "RUN --mount=type=ssh,required=true true\n")
        let missing = try f.build(["-t", "x"])
        #expect(missing.status != 0 && missing.stderr.contains("Dockerfile:4: ssh agent default is required but was not provided (--ssh default)"), "\(missing.stderr)")
        let badKey = try f.build(["-t", "x", "--ssh", "default=/nonexistent/id_rsa"])
        #expect(badKey.status != 0 && badKey.stderr.contains("--ssh default: cannot use /nonexistent/id_rsa"), "\(badKey.stderr)")
        let noAgent = try ImgBinary.run(["-s", f.state, "build", "--ssh", "default", f.context.path],
                                        environment: ["SSH_AUTH_SOCK": ""])
        #expect(noAgent.status != 0 && noAgent.stderr.contains("SSH_AUTH_SOCK is not set"), "\(noAgent.stderr)")
    }

    /// `COPY --link`: the files are a layer of their own, keyed without the steps before, so a changed
    /// base keeps them CACHED with the very same layer blob; `--chown` names still come from the base's
    /// /etc/passwd; later steps see the merged filesystem.
    @Test func copyLinkIsIndependentOfTheBase() throws {
        let f = try BuildFixture()
        try f.write("app/a.txt", "linked\n")
        try f.write("passwd", "root:x:0:0::/root:/bin/sh\nnode:x:1000:1001::/home/node:/bin/sh\n")
        func dockerfile(_ round: Int) -> String {
            Self.base + """
                COPY passwd /etc/passwd
                RUN echo \(round) > /round
                WORKDIR /srv
                COPY --link --chown=node app/ ./app/
                RUN ls -ln /srv/app/a.txt > /listing && cat /round >> /listing
                """
        }
        func layers(_ image: String) throws -> [String] {
            let result = try f.img(["inspect", image])
            let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            let manifest = json?["manifest"] as? [String: Any]
            return (manifest?["layers"] as? [[String: Any]] ?? []).compactMap { $0["digest"] as? String }
        }
        try f.write("Dockerfile", dockerfile(1))
        let first = try f.build(["-t", "linked:1"])
        #expect(first.status == 0, "\(first.stderr)")
        try f.write("Dockerfile", dockerfile(2))
        let second = try f.build(["-t", "linked:2"])
        #expect(second.status == 0, "\(second.stderr)")
        let steps = BuildFixture.steps(second.stderr)
        #expect(steps.cached.contains { $0.contains("COPY --link") }, "\(second.stderr)")
        #expect(steps.ran.contains { $0.contains("RUN echo 2") } && steps.ran.contains { $0.contains("RUN ls") })
        // The COPY --link layer (second to last) is the same blob over both bases.
        let one = try layers("linked:1"), two = try layers("linked:2")
        #expect(one.count == two.count && one.count >= 3)
        #expect(one[one.count - 2] == two[two.count - 2], "\(one) vs \(two)")
        // Fourth from the end: RUN echo (WORKDIR /srv, third, differs only by its directory's time, and is
        // the same blob when both builds fall in one second).
        #expect(one[one.count - 4] != two[two.count - 4], "the RUN before it did change")
        let rootfs = try f.unpack("linked:2")
        let listing = try String(contentsOf: rootfs.appending(path: "listing"), encoding: .utf8)
        #expect(listing.contains(" 1000 ") && listing.contains(" 1001 ") && listing.hasSuffix("2\n"), "\(listing)")
        let history = (try f.config("linked:2")["history"] as? [[String: Any]] ?? []).compactMap { $0["created_by"] as? String }
        #expect(history.contains("COPY app/ ./app/ # buildkit"), "\(history)")
    }
}
