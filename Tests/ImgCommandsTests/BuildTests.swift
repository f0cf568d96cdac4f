import Foundation
import Glibc
import ImgContent
import ImgOCI
import Testing
import ImgTestSupport

/// `img build` end to end through the real binary, as root: runc, snapshots, the cache, outputs.
@Suite(.serialized, .needs(.busybox, .runc)) struct BuildTests {
    static let base = """
        FROM scratch
        COPY busybox /bin/busybox
        RUN ["/bin/busybox", "--install", "-s", "/bin"]

        """

    @Test func instructionsShapeTheImage() throws {
        let f = try BuildFixture()
        try f.write("app/hello.txt", "hello\n")
        try f.write("Dockerfile", Self.base + """
            ARG GREETING=hi
            ENV GREETING=${GREETING} OTHER=x
            RUN mkdir -p /srv && echo "$GREETING from run" > /srv/message && chown 1000:1000 /srv/message
            WORKDIR /srv/work
            COPY --chmod=0750 app/ ./app/
            COPY <<EOF /srv/inline.txt
            inline $GREETING
            EOF
            RUN echo "user: $(id -u) dir: $(pwd)" > /srv/who && rm -f /bin/wget
            LABEL org.example.a=1 org.example.b="two words"
            EXPOSE 8080 53/udp
            USER 1000:1000
            ENTRYPOINT ["/bin/cat"]
            CMD ["/srv/message"]
            STOPSIGNAL SIGTERM
            HEALTHCHECK --interval=5s CMD ["true"]
            """)
        let result = try f.build(["-t", "shaped", "--build-arg", "GREETING=hey", "--label", "from.cli=yes"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("naming to shaped:latest") || result.stderr.contains("naming to docker.io/library/shaped:latest"), "\(result.stderr)")

        let config = try f.config("shaped")
        let container = try #require(config["config"] as? [String: Any])
        let env = try #require(container["Env"] as? [String])
        #expect(env.contains("GREETING=hey") && env.contains("OTHER=x"))
        #expect(env.contains { $0.hasPrefix("PATH=") })
        #expect(container["WorkingDir"] as? String == "/srv/work")
        #expect(container["User"] as? String == "1000:1000")
        #expect(container["Entrypoint"] as? [String] == ["/bin/cat"])
        #expect(container["Cmd"] as? [String] == ["/srv/message"])
        #expect(container["StopSignal"] as? String == "SIGTERM")
        let labels = try #require(container["Labels"] as? [String: String])
        #expect(labels == ["org.example.a": "1", "org.example.b": "two words", "from.cli": "yes"])
        #expect(Set((container["ExposedPorts"] as? [String: Any])?.keys.map { $0 } ?? []) == ["8080/tcp", "53/udp"])
        let health = try #require(container["Healthcheck"] as? [String: Any])
        #expect(health["Test"] as? [String] == ["CMD", "true"])
        #expect(health["Interval"] as? Int == 5_000_000_000)

        // History: one entry per step after FROM; metadata steps are empty layers; diff_ids match layers.
        let history = try #require(config["history"] as? [[String: Any]])
        let layered = history.filter { ($0["empty_layer"] as? Bool) != true }
        let rootfs = try #require(config["rootfs"] as? [String: Any])
        let diffIDs = try #require(rootfs["diff_ids"] as? [String])
        #expect(layered.count == diffIDs.count)
        #expect(diffIDs.count == 7, "COPY, RUN, RUN, WORKDIR, COPY, COPY, RUN: \(history.map { $0["created_by"] ?? "" })")
        #expect(history.contains { ($0["created_by"] as? String)?.hasPrefix("ENV GREETING=hey") == true && $0["empty_layer"] as? Bool == true })
        #expect(history.contains { $0["created_by"] as? String == #"CMD ["/srv/message"]"# && $0["empty_layer"] as? Bool == true })
        let stamp = /[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z/
        let created = history.compactMap { $0["created"] as? String }
        #expect(created.count == history.count && created.allSatisfy { $0.wholeMatch(of: stamp) != nil }, "\(created)")
        #expect((config["created"] as? String).map { $0.wholeMatch(of: stamp) != nil } == true)

        let rootfsDir = try f.unpack("shaped")
        func text(_ path: String) -> String? { try? String(contentsOf: rootfsDir.appending(path: path), encoding: .utf8) }
        #expect(text("srv/message") == "hey from run\n")
        #expect(text("srv/inline.txt") == "inline hey\n")
        #expect(text("srv/who") == "user: 0 dir: /srv/work\n")
        #expect(text("srv/work/app/hello.txt") == "hello\n")
        var info = stat()
        #expect(lstat(rootfsDir.appending(path: "srv/message").path, &info) == 0 && info.st_uid == 1000 && info.st_gid == 1000)
        #expect(lstat(rootfsDir.appending(path: "srv/work/app/hello.txt").path, &info) == 0 && info.st_mode & 0o777 == 0o750)
        #expect(lstat(rootfsDir.appending(path: "bin/wget").path, &info) != 0, "the RUN's delete is a whiteout in its layer")
        #expect(lstat(rootfsDir.appending(path: "bin/ls").path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK)
    }

    @Test func cacheHitsAndMissesFollowTheInputs() throws {
        let f = try BuildFixture()
        try f.write("a.txt", "one\n")
        try f.write("b.txt", "bee\n")
        try f.write("Dockerfile", Self.base + """
            RUN echo first > /first
            COPY a.txt /a.txt
            RUN cat /a.txt > /copy-of-a
            COPY b.txt /b.txt
            """)
        let cold = try f.build(["-t", "cached"])
        #expect(cold.status == 0, "\(cold.stderr)")
        #expect(BuildFixture.steps(cold.stderr).cached.isEmpty)
        #expect(BuildFixture.steps(cold.stderr).ran.count == 6)

        let warm = try f.build(["-t", "cached"])
        #expect(warm.status == 0, "\(warm.stderr)")
        #expect(BuildFixture.steps(warm.stderr).ran.isEmpty, "unchanged: everything CACHED\n\(warm.stderr)")
        #expect(BuildFixture.steps(warm.stderr).cached.count == 6)

        // A new mtime is not a change.
        let later = Date().addingTimeInterval(120)
        try FileManager.default.setAttributes([.modificationDate: later], ofItemAtPath: f.context.appending(path: "a.txt").path)
        let touched = try f.build(["-t", "cached"])
        #expect(BuildFixture.steps(touched.stderr).ran.isEmpty, "touch: everything CACHED\n\(touched.stderr)")

        // An edit reruns the step that reads it and everything after, nothing before.
        try f.write("a.txt", "two\n")
        let edited = try f.build(["-t", "cached"])
        #expect(edited.status == 0, "\(edited.stderr)")
        let steps = BuildFixture.steps(edited.stderr)
        #expect(steps.cached.count == 3, "\(edited.stderr)")
        #expect(steps.ran.map { String($0.split(separator: "]").last ?? "").trimmingCharacters(in: .whitespaces) }
            == ["COPY a.txt /a.txt", "RUN cat /a.txt > /copy-of-a", "COPY b.txt /b.txt"])
        let rootfs = try f.unpack("cached")
        #expect(try String(contentsOf: rootfs.appending(path: "copy-of-a"), encoding: .utf8) == "two\n")
        // Each miss says why.
        #expect(cold.stderr.contains("cache miss: no earlier build of this step"))
        #expect(edited.stderr.contains("cache miss: the files it copies changed"), "\(edited.stderr)")
        #expect(edited.stderr.contains("cache miss: the step before it changed"))
        try f.write("Dockerfile", Self.base + """
            RUN echo first-changed > /first
            COPY a.txt /a.txt
            """)
        let commandChanged = try f.build(["-t", "cached"])
        #expect(commandChanged.stderr.contains("cache miss: the command changed"), "\(commandChanged.stderr)")

        // --no-cache runs everything again (the four steps of the last Dockerfile).
        let fresh = try f.build(["-t", "cached", "--no-cache"])
        #expect(BuildFixture.steps(fresh.stderr).cached.isEmpty && BuildFixture.steps(fresh.stderr).ran.count == 4)
        #expect(fresh.stderr.contains("cache miss: --no-cache"))
    }

    @Test func independentStagesOverlapAndUnreachableStagesNeverRun() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.base.replacingOccurrences(of: "FROM scratch", with: "FROM scratch AS tools") + """
            FROM tools AS left
            RUN sleep 2 && echo left > /left

            FROM tools AS right
            RUN sleep 2 && echo right > /right

            FROM tools AS broken
            RUN echo never-runs && exit 7

            FROM tools
            COPY --from=left /left /out/
            COPY --from=right /right /out/
            """)
        let result = try f.build(["-t", "multi"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains("never-runs"))
        // Both sleeps start before either finishes.
        let lines = result.stderr.split(separator: "\n").map(String.init)
        func index(_ predicate: (String) -> Bool) -> Int? { lines.firstIndex(where: predicate) }
        let leftNumber = lines.first { $0.contains("[left 2/2] RUN") }?.split(separator: " ").first.map(String.init)
        let rightNumber = lines.first { $0.contains("[right 2/2] RUN") }?.split(separator: " ").first.map(String.init)
        let leftStart = try #require(index { $0.contains("[left 2/2] RUN") })
        let rightStart = try #require(index { $0.contains("[right 2/2] RUN") })
        let leftDone = try #require(index { $0 == "\(leftNumber!) DONE" || $0.hasPrefix("\(leftNumber!) DONE ") })
        let rightDone = try #require(index { $0.hasPrefix("\(rightNumber!) DONE ") })
        #expect(max(leftStart, rightStart) < min(leftDone, rightDone), "the two RUN steps overlapped in time\n\(result.stderr)")
        let rootfs = try f.unpack("multi")
        #expect(try String(contentsOf: rootfs.appending(path: "out/left"), encoding: .utf8) == "left\n")
        #expect(try String(contentsOf: rootfs.appending(path: "out/right"), encoding: .utf8) == "right\n")

        // --target builds only what that stage needs.
        let target = try f.build(["-t", "left-only", "--target", "left"])
        #expect(target.status == 0)
        #expect(!target.stderr.contains("[right") && !target.stderr.contains("never-runs"))
    }

    @Test func ttyProgressDrawsBuildKitsView() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.base + "RUN echo tty-output\n")
        let result = try ImgBinary.run(["-s", f.state, "build", "--progress", "tty", "-t", "tty", f.context.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("[+] Building") && result.stderr.contains("FINISHED"))
        #expect(result.stderr.contains(" => [4/4] RUN echo tty-output"), "\(result.stderr)")
        let again = try ImgBinary.run(["-s", f.state, "build", "--progress", "tty", "-t", "tty", f.context.path])
        #expect(again.stderr.contains(" => CACHED [4/4] RUN echo tty-output"), "\(again.stderr)")
    }

    @Test func aFailingRunShowsItsOutputAndExitCode() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.base + "RUN echo some-output && exit 3\n")
        let result = try f.build(["-t", "fails"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("some-output"))
        #expect(result.stderr.contains("Dockerfile:4: RUN exited with code 3"), "\(result.stderr)")
        #expect(try f.img(["ls"]).stdout.contains("fails") == false)
        #expect(!Self.mountsMention(f.state))
    }

    @Test func badInputGetsOneClearLine() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.base + "COPY missing.txt /x\n")
        let missing = try f.build(["-t", "bad"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("Dockerfile:4:") && missing.stderr.contains("missing.txt"), "\(missing.stderr)")

        try f.write("Dockerfile", "FROM scratch\nFORM x\n")
        let typo = try f.build(["-t", "bad"])
        #expect(typo.status != 0)
        #expect(typo.stderr.contains("Dockerfile:2: unknown instruction: FORM"), "\(typo.stderr)")
    }

    /// As in BuildKit: a symlink named as the source is followed inside the context (never to the host's
    /// files: `/etc/passwd` is the context's, which does not exist), one inside a copied directory stays a link.
    @Test func contextSymlinksAreFollowedInsideTheContextOnly() throws {
        let f = try BuildFixture()
        try FileManager.default.createSymbolicLink(atPath: f.context.appending(path: "escape").path, withDestinationPath: "/etc/passwd")
        try f.write("Dockerfile", Self.base + "COPY escape /escape\n")
        let escaping = try f.build(["-t", "links"])
        #expect(escaping.status != 0 && escaping.stderr.contains("file not found in build context: escape"), "\(escaping.stderr)")

        try f.write("dir/real.txt", "real\n")
        try FileManager.default.createSymbolicLink(atPath: f.context.appending(path: "dir/link").path, withDestinationPath: "/etc/passwd")
        try FileManager.default.createSymbolicLink(atPath: f.context.appending(path: "to-real").path, withDestinationPath: "/dir/real.txt")
        try f.write("Dockerfile", Self.base + "COPY to-real /followed\nCOPY dir /dir\n")
        let result = try f.build(["-t", "links"])
        #expect(result.status == 0, "\(result.stderr)")
        let rootfs = try f.unpack("links")
        #expect(try String(contentsOfFile: rootfs.appending(path: "followed").path, encoding: .utf8) == "real\n")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: rootfs.appending(path: "dir/link").path) == "/etc/passwd")
    }

    @Test func outputsAreReadByOtherTools() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.base + "RUN echo out > /out.txt\n")
        let oci = f.dir.url.appending(path: "image-oci.tar").path
        let docker = f.dir.url.appending(path: "image-docker.tar").path
        let rootfsTar = f.dir.url.appending(path: "rootfs.tar").path
        let local = f.dir.url.appending(path: "local").path
        let result = try f.build(["-o", "type=oci,dest=\(oci)", "-o", "type=docker,dest=\(docker),name=outs:v1",
                                  "-o", "type=tar,dest=\(rootfsTar)", "-o", "type=local,dest=\(local)"])
        #expect(result.status == 0, "\(result.stderr)")
        let skopeoOCI = try SaveLoadTests.shell("skopeo inspect --raw oci-archive:'\(oci)'")
        #expect(skopeoOCI.status == 0 && skopeoOCI.stdout.contains("application/vnd.oci.image.manifest.v1+json"), "\(skopeoOCI.stderr)")
        let skopeoDocker = try SaveLoadTests.shell("skopeo inspect docker-archive:'\(docker)'")
        #expect(skopeoDocker.status == 0 && skopeoDocker.stdout.contains("\"Layers\""), "\(skopeoDocker.stderr)")
        let listing = try SaveLoadTests.shell("tar -tf '\(rootfsTar)'")
        #expect(listing.stdout.contains("out.txt") && listing.stdout.contains("bin/busybox"))
        #expect(try String(contentsOfFile: local + "/out.txt", encoding: .utf8) == "out\n")
    }

    /// `img prune` removes snapshots (re-made from blobs when needed) but never under a running build;
    /// `--all` also drops the build cache: records, cache mounts, remembered checksums.
    @Test func pruneRemovesSnapshotsAndWithAllTheBuildCache() throws {
        let f = try BuildFixture()
        try f.write("a.txt", "one\n")
        try f.write("Dockerfile", Self.base + """
            RUN --mount=type=cache,target=/cache echo kept > /cache/marker && echo first > /first
            COPY a.txt /a.txt
            RUN cat /a.txt /first > /both
            """)
        #expect(try f.build(["-t", "pruned"]).status == 0)
        let snapshots = f.state + "/snapshots/overlay"
        func entries(_ path: String) -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] }
        #expect(!entries(snapshots).isEmpty)
        #expect(!entries(f.state + "/cache-mounts").isEmpty)

        // While a build is running (its RUN sleeps), snapshots stay.
        try f.write("Dockerfile.busy", Self.base + "RUN echo started && sleep 3\n")
        let busy = try f.startBuild(["-f", f.context.appending(path: "Dockerfile.busy").path, "-t", "busy"], until: "started")
        let during = try f.img(["prune"])
        #expect(during.status == 0, "\(during.stderr)")
        #expect(during.stdout.contains("Snapshots kept: a build is running"), "\(during.stdout)")
        #expect(!entries(snapshots).isEmpty)
        busy.waitUntilExit()
        #expect(busy.terminationStatus == 0)

        let dry = try f.img(["prune", "--dry-run"])
        #expect(dry.stdout.contains("Snapshots: ") && dry.stdout.contains("would be freed"), "\(dry.stdout)")
        #expect(!entries(snapshots).isEmpty)
        let pruned = try f.img(["prune"])
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(pruned.stdout.contains("Snapshots: ") && pruned.stdout.contains(" freed"), "\(pruned.stdout)")
        #expect(entries(snapshots).isEmpty)
        #expect(entries(f.state + "/snapshots/tmp").isEmpty)
        // The cache is intact: unchanged, everything is CACHED; an edit re-makes the snapshots it needs.
        let warm = try f.build(["-t", "pruned"])
        #expect(BuildFixture.steps(warm.stderr).ran.isEmpty, "\(warm.stderr)")
        try f.write("a.txt", "two\n")
        let edited = try f.build(["-t", "pruned"])
        #expect(edited.status == 0, "\(edited.stderr)")
        #expect(BuildFixture.steps(edited.stderr).ran.count == 2, "\(edited.stderr)")
        #expect(try String(contentsOf: try f.unpack("pruned").appending(path: "both"), encoding: .utf8) == "two\nfirst\n")

        let all = try f.img(["prune", "--all"])
        #expect(all.status == 0, "\(all.stderr)")
        #expect(all.stdout.contains("Build cache records: ") && all.stdout.contains(" removed"), "\(all.stdout)")
        #expect(entries(f.state + "/cache-mounts").isEmpty)
        #expect(!FileManager.default.fileExists(atPath: f.state + "/context-checksums.db"))
        // No record left: every step runs again, and the image is still there and the same.
        #expect(try f.img(["inspect", "pruned"]).status == 0)
        let cold = try f.build(["-t", "pruned"])
        #expect(cold.status == 0, "\(cold.stderr)")
        #expect(BuildFixture.steps(cold.stderr).cached.isEmpty, "\(cold.stderr)")
    }

    /// `compression=` and `compression-level=` on an output: a layer the build makes has the media type and
    /// compression asked for and reads back to the diffID the config records; levels change the bytes, not
    /// the content. As in BuildKit, layers that exist already (cached, the base image's) keep theirs unless
    /// `force-compression=true`. A bad level is one line.
    @Test func outputCompressionAndLevel() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.base + "RUN seq 1 20000 > /numbers.txt\n")
        func layers(_ options: String, _ extra: [String] = ["--no-cache"]) throws -> [(mediaType: String, blob: String, diffID: String)] {
            let archive = f.dir.url.appending(path: "out-\(UUID().uuidString.prefix(8)).tar").path
            let built = try f.build(extra + ["-o", "type=oci,dest=\(archive)," + options])
            #expect(built.status == 0, "\(built.stderr)")
            let layout = archive + ".d"
            #expect(try SaveLoadTests.shell("mkdir -p '\(layout)' && tar -xf '\(archive)' -C '\(layout)'").status == 0)
            func json(_ path: String) throws -> [String: Any] {
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(filePath: path))) as? [String: Any] ?? [:]
            }
            func blob(_ digest: Any?) -> String { layout + "/blobs/sha256/" + ((digest as? String) ?? "").replacingOccurrences(of: "sha256:", with: "") }
            let index = try json(layout + "/index.json")
            let manifest = try json(blob((index["manifests"] as? [[String: Any]])?.first?["digest"]))
            let config = try json(blob((manifest["config"] as? [String: Any])?["digest"]))
            let diffIDs = ((config["rootfs"] as? [String: Any])?["diff_ids"] as? [String]) ?? []
            let entries = (manifest["layers"] as? [[String: Any]]) ?? []
            #expect(entries.count == diffIDs.count && !entries.isEmpty)
            return zip(entries, diffIDs).map { (($0["mediaType"] as? String) ?? "", blob($0["digest"]), $1) }
        }
        func contentDigest(_ blob: String, _ tool: String) throws -> String {
            "sha256:" + String(try SaveLoadTests.shell("\(tool) '\(blob)' | sha256sum").stdout.prefix(64))
        }
        let zstd = try layers("compression=zstd").last!
        #expect(zstd.mediaType == "application/vnd.oci.image.layer.v1.tar+zstd")
        #expect(try contentDigest(zstd.blob, "zstd -dc") == zstd.diffID)
        let plain = try layers("compression=uncompressed").last!
        #expect(plain.mediaType == "application/vnd.oci.image.layer.v1.tar")
        #expect(try contentDigest(plain.blob, "cat") == plain.diffID)
        // Levels: the busybox layer (first; the same file in every build, only directory times differ) is
        // smaller at 9 than at 1.
        let fast = try layers("compression=gzip,compression-level=1")
        let small = try layers("compression=gzip,compression-level=9")
        for layer in fast + small {
            #expect(layer.mediaType == "application/vnd.oci.image.layer.v1.tar+gzip")
            #expect(try contentDigest(layer.blob, "gzip -dc") == layer.diffID)
        }
        let sizes = try [fast[0].blob, small[0].blob].map { try FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int ?? 0 }
        #expect(sizes[0] > sizes[1], "level 1 \(sizes[0]) bytes, level 9 \(sizes[1])")

        // Cached now as gzip level 9: without force the layer stays so; with it, every layer (the base
        // image's too) is made zstd, and still holds its diffID.
        let cached = try layers("compression=zstd", [])
        #expect(cached.map { ($0.blob as NSString).lastPathComponent } == small.map { ($0.blob as NSString).lastPathComponent })
        let forced = try layers("compression=zstd,force-compression=true", [])
        #expect(forced.count == small.count)
        for layer in forced {
            #expect(layer.mediaType == "application/vnd.oci.image.layer.v1.tar+zstd")
            #expect(try contentDigest(layer.blob, "zstd -dc") == layer.diffID)
        }
        #expect(forced.map(\.diffID) == small.map(\.diffID))

        let bad = try f.build(["-o", "type=oci,dest=\(f.dir.url.path)/bad.tar,compression=gzip,compression-level=12"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("compression-level for gzip must be in 0...9"), "\(bad.stderr)")
        #expect(bad.stderr.split(separator: "\n").count == 1, "\(bad.stderr)")
    }

    /// A FROM is shown by the image it names after ARG expansion, as BuildKit shows it.
    @Test func fromIsTitledByTheExpandedImage() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.base)
        #expect(try f.build(["-t", "titled-base"]).status == 0)
        try f.write("Dockerfile", "ARG BASE=titled\nFROM ${BASE}-base\nRUN echo hi > /hi\n")
        let built = try f.build(["-t", "titled"])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stderr.contains("[1/2] FROM titled-base\n"), "\(built.stderr)")
        #expect(!built.stderr.contains("${BASE}"))
    }

    @Test func aKilledBuildLeavesTheStoreUsable() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.base + "RUN echo started && sleep 60\n")
        // Once the RUN step is running, kill img without warning.
        let process = try f.startBuild(["-t", "killed"], until: "started")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        // Whatever the container was doing, the next build works and records its image.
        _ = try? SaveLoadTests.shell("pkill -9 -f 'sleep 60' || true")
        try f.write("Dockerfile", Self.base + "RUN echo second > /second\n")
        let again = try f.build(["-t", "after-kill"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try f.img(["ls"]).stdout.contains("after-kill"))
        #expect(!(try f.img(["ls"]).stdout.contains("killed")))
    }

    /// A step's layer is stored beside the next step; killed while that next step runs, the state has no
    /// cache record naming a blob it lacks, every blob it has holds its digest, and the build runs again.
    @Test func aBuildKilledWhileItsLayersAreStoredNamesNoMissingBlob() async throws {
        let f = try BuildFixture()
        try f.write("hello.txt", "hello\n")
        let steps = "RUN dd if=/dev/urandom of=/noise bs=1M count=8 2>/dev/null\nCOPY hello.txt /hello.txt\n"
        try f.write("Dockerfile", Self.base + steps + "RUN echo started && sleep 60\n")
        let process = try f.startBuild(["-t", "killed"], until: "started")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        _ = try? SaveLoadTests.shell("pkill -9 -f 'sleep 60' || true")

        let store = try StateDirectory(root: f.state)
        for record in try await store.cache.list() {
            let manifest = try JSONDecoder().decode(Manifest.self, from: try store.content.data(for: record.result.digest))
            for blob in [manifest.config] + manifest.layers {
                #expect(store.content.exists(blob.digest), "cache record \(record.key) names \(blob.digest), not in the store")
            }
        }
        for blob in try store.content.list() { #expect(throws: Never.self) { try store.content.verify(blob.digest) } }

        try f.write("Dockerfile", Self.base + steps + "RUN cat /hello.txt > /copied\n")
        let again = try f.build(["-t", "after-kill"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(String(data: try Data(contentsOf: f.unpack("after-kill").appending(path: "copied")), encoding: .utf8) == "hello\n")
    }

    @Test(arguments: ["examples/busybox", "examples/multistage"])
    func examplesBuild(_ example: String) throws {
        let f = try BuildFixture()
        let root = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dockerfile = root.appending(path: example + "/Dockerfile")
        try FileManager.default.copyItem(at: dockerfile, to: f.context.appending(path: "Dockerfile"))
        let result = try f.build(["-t", "example"])
        #expect(result.status == 0, "\(result.stderr)")
        let rootfs = try f.unpack("example")
        #expect(FileManager.default.fileExists(atPath: rootfs.appending(path: "bin/busybox").path))
    }

    /// Whether any mount under the state directory is still there (none may be, after any build).
    static func mountsMention(_ state: String) -> Bool {
        ((try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "").contains(state)
    }
}
