import Foundation
import Glibc
import Testing
import ImgTestSupport

/// `--reproducible`, `SOURCE_DATE_EPOCH=context` and `rewrite-timestamp=true` through the real binary.
@Suite(.serialized, .needs(.busybox, .runc, .git, .python3)) struct BuildReproducibleTests {
    /// COPY from the context and a RUN that writes a file; the RUN also reads the epoch as BuildKit passes it.
    static let dockerfile = """
        FROM scratch
        COPY busybox /bin/busybox
        COPY app.txt /app.txt
        ARG SOURCE_DATE_EPOCH
        RUN ["/bin/busybox", "sh", "-c", "echo made > /made.txt && echo $SOURCE_DATE_EPOCH > /epoch"]

        """

    /// A git work tree holding the context, committed at a known time; returns it with the commit and its time.
    static func gitContext(_ server: GitServer) throws -> (work: String, commit: String, time: Int64) {
        let work = try server.workTree("ctx")
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: work + "/busybox")
        let commit = try server.commit("ctx", ["Dockerfile": dockerfile, "app.txt": "app\n"])
        let time = try #require(Int64(try server.git(["log", "-1", "--format=%ct"], in: work)))
        return (work, commit, time)
    }

    static func touchAll(_ directory: String, to date: Date) throws {
        let manager = FileManager.default
        for name in try manager.subpathsOfDirectory(atPath: directory) where !name.hasPrefix(".git") {
            try manager.setAttributes([.modificationDate: date], ofItemAtPath: directory + "/" + name)
        }
    }

    static func created(_ seconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    static func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(filePath: path)) }

    @Test func aGitWorkTreeGivesTheSameImageOnFreshStateDirectories() throws {
        let server = try GitServer()
        defer { server.stop() }
        let (work, commit, time) = try Self.gitContext(server)
        let first = try BuildFixture()
        let firstArchive = first.dir.url.appending(path: "image.tar").path
        let built = try first.build(["--reproducible", "-t", "repro", "-o", "type=oci,dest=\(firstArchive)",
                                     "--iidfile", first.dir.url.appending(path: "iid").path], contextPath: work)
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stderr.contains("SOURCE_DATE_EPOCH=\(time) (from git commit \(commit.prefix(12)))"), "\(built.stderr)")
        #expect(try first.config("repro")["created"] as? String == Self.created(time))
        let rootfs = try first.unpack("repro")
        #expect(try String(contentsOf: rootfs.appending(path: "epoch"), encoding: .utf8) == "\(time)\n")

        // Every file touched (a fresh checkout's times): the commit time still decides.
        try Self.touchAll(work, to: Date().addingTimeInterval(3600))
        let second = try BuildFixture()
        let secondArchive = second.dir.url.appending(path: "image.tar").path
        let again = try second.build(["--reproducible", "-t", "repro", "-o", "type=oci,dest=\(secondArchive)",
                                      "--iidfile", second.dir.url.appending(path: "iid").path], contextPath: work)
        #expect(again.status == 0, "\(again.stderr)")
        let firstID = try String(contentsOfFile: first.dir.url.appending(path: "iid").path, encoding: .utf8)
        let secondID = try String(contentsOfFile: second.dir.url.appending(path: "iid").path, encoding: .utf8)
        #expect(!firstID.isEmpty && firstID == secondID)
        let (firstBytes, secondBytes) = (try Self.bytes(firstArchive), try Self.bytes(secondArchive))
        #expect(firstBytes == secondBytes, "the OCI archives differ")

        // SOURCE_DATE_EPOCH=context is --reproducible.
        let third = try BuildFixture()
        let thirdArchive = third.dir.url.appending(path: "image.tar").path
        let byEnvironment = try third.build(["-t", "repro", "-o", "type=oci,dest=\(thirdArchive)",
                                             "--iidfile", third.dir.url.appending(path: "iid").path],
                                            contextPath: work, environment: ["SOURCE_DATE_EPOCH": "context"])
        #expect(byEnvironment.status == 0, "\(byEnvironment.stderr)")
        #expect(try String(contentsOfFile: third.dir.url.appending(path: "iid").path, encoding: .utf8) == firstID)
    }

    /// Provenance and an SBOM attached: still the same index on a fresh state directory (no times, no
    /// invocation id, the SBOM created at the image's time).
    @Test func attestationsStayReproducible() throws {
        let server = try GitServer()
        defer { server.stop() }
        let (work, commit, _) = try Self.gitContext(server)
        var digests: [String] = []
        var archives: [Data] = []
        for _ in 0..<2 {
            let f = try BuildFixture()
            let archive = f.dir.url.appending(path: "image.tar").path, iid = f.dir.url.appending(path: "iid").path
            let built = try f.build(["--reproducible", "--provenance", "mode=max", "--sbom=true", "-t", "repro",
                                     "-o", "type=oci,dest=\(archive)", "--iidfile", iid], contextPath: work)
            #expect(built.status == 0, "\(built.stderr)")
            digests.append(try String(contentsOfFile: iid, encoding: .utf8))
            archives.append(try Self.bytes(archive))
            let inspected = try f.img(["inspect", "repro"])
            let json = try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as? [String: Any]
            let attached = json?["attestations"] as? [[String: Any]] ?? []
            #expect(attached.compactMap { $0["predicateType"] as? String }
                    == ["https://slsa.dev/provenance/v1", "https://spdx.dev/Document"], "\(inspected.stdout.prefix(300))")
            let predicate = (attached.first?["statement"] as? [String: Any])?["predicate"] as? [String: Any]
            let details = predicate?["runDetails"] as? [String: Any]
            #expect(details?["metadata"] == nil, "no build times in a reproducible provenance")
            let source = ((predicate?["buildDefinition"] as? [String: Any])?["externalParameters"] as? [String: Any])?["configSource"] as? [String: Any]
            #expect((source?["digest"] as? [String: String])?["sha1"] == commit, "the work tree's commit: \(String(describing: source))")
            try Self.touchAll(work, to: Date().addingTimeInterval(7200))
        }
        #expect(digests.count == 2 && !digests[0].isEmpty && digests[0] == digests[1])
        #expect(archives[0] == archives[1], "the OCI archives differ")
    }

    @Test func aGitURLContextTakesTheClonedCommitsTime() async throws {
        let server = try GitServer()
        defer { server.stop() }
        let (_, commit, time) = try Self.gitContext(server)
        let port = try await server.startHTTP(token: "unused")
        let f = try BuildFixture()
        let built = try f.build(["--reproducible", "-t", "from-url"], contextPath: "http://127.0.0.1:\(port)/ctx.git#main")
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stderr.contains("SOURCE_DATE_EPOCH=\(time) (from git commit \(commit.prefix(12)))"), "\(built.stderr)")
        #expect(try f.config("from-url")["created"] as? String == Self.created(time))
    }

    @Test func withoutGitTheNewestFileTheContextSendsIsTheEpoch() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.dockerfile)
        try f.write("app.txt", "app\n")
        try f.write("ignored.txt", "not sent\n")
        try f.write(".dockerignore", "ignored.txt\n")
        let times: [String: Int64] = ["busybox": 1_600_000_000, "Dockerfile": 1_640_000_000, ".dockerignore": 1_600_000_000,
                                      "app.txt": 1_650_000_000, "ignored.txt": 1_690_000_000]
        for (name, seconds) in times {
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: TimeInterval(seconds))],
                                                  ofItemAtPath: f.context.appending(path: name).path)
        }
        let built = try f.build(["--reproducible", "-t", "newest"])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stderr.contains("SOURCE_DATE_EPOCH=1650000000 (from the newest context file, app.txt)"), "\(built.stderr)")
        #expect(try f.config("newest")["created"] as? String == Self.created(1_650_000_000))
        // A number given wins and keeps working as before.
        let given = try f.build(["-t", "given"], environment: ["SOURCE_DATE_EPOCH": "1500000000"])
        #expect(given.status == 0 && given.stderr.contains("SOURCE_DATE_EPOCH=1500000000 (as given)"), "\(given.stderr)")
        #expect(try f.config("given")["created"] as? String == Self.created(1_500_000_000))
    }

    /// Each layer of an OCI archive as (path, mtime) entries, read by Python's tarfile.
    static func layerTimes(_ archive: String, in f: BuildFixture) throws -> [[(String, Int64)]] {
        let layout = f.dir.url.appending(path: "layout-\(UUID().uuidString)").path
        let script = """
            import json, os, sys, tarfile
            root = sys.argv[1]
            blob = lambda d: os.path.join(root, "blobs", *d.split(":"))
            index = json.load(open(os.path.join(root, "index.json")))
            manifest = json.load(open(blob(index["manifests"][0]["digest"])))
            for layer in manifest["layers"]:
                print("--")
                for member in tarfile.open(blob(layer["digest"]), "r:*"):
                    print(int(member.mtime), member.name)
            """
        let listed = try SaveLoadTests.shell("mkdir '\(layout)' && tar -xf '\(archive)' -C '\(layout)' && python3 -c '\(script)' '\(layout)'")
        guard listed.status == 0 else { throw BuildFixtureError("reading \(archive): \(listed.stderr)") }
        return listed.stdout.components(separatedBy: "--\n").dropFirst().map { block in
            block.split(separator: "\n").map { line in
                let parts = line.split(separator: " ", maxSplits: 1)
                return (String(parts[1]), Int64(parts[0]) ?? -1)
            }
        }
    }

    @Test func rewriteTimestampClampsTheBuildsLayersNotTheBase() throws {
        let f = try BuildFixture()
        let epoch: Int64 = 1_500_000_000
        try f.write("base.Dockerfile", """
            FROM scratch
            COPY busybox /bin/busybox
            RUN ["/bin/busybox", "sh", "-c", "echo base > /base.txt"]

            """)
        try f.write("Dockerfile", "FROM base:1\nCOPY app.txt /app.txt\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo made > /made.txt\"]\n")
        try f.write("app.txt", "app\n")
        let base = try f.build(["-t", "base:1", "-f", f.context.appending(path: "base.Dockerfile").path])
        #expect(base.status == 0, "\(base.stderr)")
        // Cached without an epoch first: those records must not stand in for the clamped layers.
        let plain = try f.build(["-t", "app"])
        #expect(plain.status == 0, "\(plain.stderr)")

        let archive = f.dir.url.appending(path: "clamped.tar").path
        let output = "type=oci,dest=\(archive),rewrite-timestamp=true"
        let clamped = try f.build(["-o", output], environment: ["SOURCE_DATE_EPOCH": String(epoch)])
        #expect(clamped.status == 0, "\(clamped.stderr)")
        let steps = BuildFixture.steps(clamped.stderr)
        #expect(steps.ran.contains { $0.contains("COPY app.txt") } && steps.ran.contains { $0.contains("RUN") },
                "\(clamped.stderr)")
        let layers = try Self.layerTimes(archive, in: f)
        try #require(layers.count == 4, "\(layers)")
        // The base image's layers are kept as they are: its RUN wrote base.txt after the epoch.
        #expect(layers[1].contains { $0.0.hasSuffix("base.txt") && $0.1 > epoch }, "\(layers[1])")
        for layer in layers[2...] {
            #expect(!layer.isEmpty && layer.allSatisfy { $0.1 <= epoch }, "\(layer)")
        }
        #expect(layers[3].contains { $0.0.hasSuffix("made.txt") && $0.1 == epoch }, "\(layers[3])")

        // The same epoch again: the clamped records are the cache.
        let again = try f.build(["-o", output], environment: ["SOURCE_DATE_EPOCH": String(epoch)])
        let cached = BuildFixture.steps(again.stderr).cached
        #expect(again.status == 0 && cached.contains { $0.contains("COPY app.txt") } && cached.contains { $0.contains("RUN") },
                "\(again.stderr)")
    }

    @Test func badValuesAreOneLineErrors() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", "FROM scratch\nCOPY busybox /bin/busybox\n")
        let oci = f.dir.url.appending(path: "x.tar").path
        let cases: [([String], [String: String], String)] = [
            ([], ["SOURCE_DATE_EPOCH": "soon"], "error: SOURCE_DATE_EPOCH=soon: expected seconds since 1970 or \"context\""),
            (["--reproducible"], ["SOURCE_DATE_EPOCH": "-5"], "error: SOURCE_DATE_EPOCH=-5: expected seconds since 1970 or \"context\""),
            (["-t", "x", "--build-arg", "SOURCE_DATE_EPOCH=later"], [:],
             "error: --build-arg SOURCE_DATE_EPOCH=later: expected seconds since 1970 or \"context\""),
            (["-o", "type=oci,dest=\(oci),rewrite-timestamp=true"], [:],
             "error: -o type=oci,rewrite-timestamp=true needs SOURCE_DATE_EPOCH: set it, or add --reproducible"),
            (["-o", "type=tar,dest=\(oci),rewrite-timestamp=true"], ["SOURCE_DATE_EPOCH": "1"],
             "rewrite-timestamp=true needs type=image, oci or docker"),
            (["-o", "type=oci,dest=\(oci),rewrite-timestamp=maybe"], ["SOURCE_DATE_EPOCH": "1"],
             "rewrite-timestamp must be true or false"),
        ]
        for (arguments, environment, message) in cases {
            let result = try f.build(arguments, environment: environment)
            #expect(result.status != 0, "\(arguments) \(environment)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].lowercased().hasPrefix("error: ") && lines[0].contains(message), "\(arguments): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: oci))
    }
}
