import Foundation
import Glibc
import ImgTestSupport
import Testing

/// img against BuildKit, case by case (issue 15): each case of Tests/BuildKitReference/cases.json is built by
/// the real binary and its config, history and layer entries are compared with what docker 20.10's BuildKit
/// made of it (recorded by scripts/buildkit-reference, with current BuildKit's corrections where its source
/// does otherwise). A case img is known to build differently is recorded in img.json with its difference
/// number; for it the test checks that img still builds exactly that, so a fix (or a new change) shows.
@Suite(.serialized, .needs(.busybox, .runc, .tar, .gzip)) struct BuildKitConformanceTests {
    /// One state directory with the busybox base loaded, shared by the cases.
    final class Shared: Sendable {
        let dir: TemporaryDirectory
        var state: String { dir.file("state") }

        init() throws {
            dir = try TemporaryDirectory("img-buildkit")
            let archive = try Self.busyboxArchive(in: dir)
            let loaded = try ImgBinary.run(["-s", dir.file("state"), "load", "-i", archive])
            guard loaded.status == 0 else { throw TestFailure("img load busybox: \(loaded.stderr)") }
        }

        /// `busybox:latest` as a docker archive, made as scripts/buildkit-reference makes it: Debian's static
        /// busybox with /bin/sh, the directories a RUN mounts over, PATH=/bin, one history entry.
        static func busyboxArchive(in dir: TemporaryDirectory) throws -> String {
            let root = dir.file("busybox-root"), arch = dir.file("busybox-archive")
            let dirs = ["bin", "dev", "etc", "mnt", "proc", "sys"]
            for d in dirs { try FileManager.default.createDirectory(atPath: root + "/" + d, withIntermediateDirectories: true) }
            try FileManager.default.createDirectory(atPath: arch, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: root + "/bin/busybox")
            try FileManager.default.createSymbolicLink(atPath: root + "/bin/sh", withDestinationPath: "busybox")
            try run("tar", ["--format=gnu", "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner",
                            "-C", root, "-cf", arch + "/layer.tar"] + dirs)
            let diffID = try sha256(file: arch + "/layer.tar")
            let config = #"{"architecture":"amd64","config":{"Cmd":["sh"],"Env":["PATH=/bin"]},"created":"2026-01-01T00:00:00Z","history":[{"created":"2026-01-01T00:00:00Z","created_by":"busybox base of the BuildKit comparison"}],"os":"linux","rootfs":{"diff_ids":["\#(diffID)"],"type":"layers"}}"#
            try Data(config.utf8).write(to: URL(filePath: arch + "/config.json"))
            try Data(#"[{"Config":"config.json","RepoTags":["busybox:latest"],"Layers":["layer.tar"]}]"#.utf8)
                .write(to: URL(filePath: arch + "/manifest.json"))
            let out = dir.file("busybox.tar")
            try run("tar", ["-C", arch, "-cf", out, "manifest.json", "config.json", "layer.tar"])
            return out
        }
    }

    static let shared: Result<Shared, any Error> = Result { try Shared() }

    @Test(arguments: BuildKitReference.caseNames) func sameImageAsBuildKit(_ name: String) throws {
        try Prerequisite.require(.busybox, .runc, .tar, .gzip)
        let reference = try BuildKitReference.loaded.get()
        let shared = try Self.shared.get()
        let c = try #require(reference.cases.first { $0.name == name })
        let expected = try reference.reference(for: c)

        let context = shared.dir.file("case-" + name), archive = context + ".tar"
        try c.makeContext(in: context)
        defer { removeTree(context); unlink(archive) }
        let built = try ImgBinary.run(["-s", shared.state, "build", "--progress", "plain", "-o", "type=docker,dest=" + archive, context])
        let actual: JSONValue = built.status == 0
            ? try ImageReduction.reduce(archive: archive, skipLayers: c.baseSkip.layers, skipHistory: c.baseSkip.history)
            : .object(["fails": .bool(true), "log": .string(built.stderr.split(separator: "\n").last.map(String.init) ?? "")])

        let differences = ImageReduction.differences(expected: expected, actual: actual)
        if let known = reference.knownDifferences[name] {
            // A known difference: img must still build exactly what was recorded for it, and that must
            // still differ from BuildKit (else the record is stale: run scripts/buildkit-reference).
            let recorded = try #require(known["img"])
            #expect(!differences.isEmpty, "\(name) (difference \(c.difference.map(String.init) ?? "-")) is now identical to BuildKit (docker \(reference.docker)): run scripts/buildkit-reference to record it")
            let drift = ImageReduction.differences(expected: recorded, actual: actual)
            #expect(drift.isEmpty, Comment(rawValue: "\(name): img no longer builds its recorded known difference:\n  " + drift.joined(separator: "\n  ")))
        } else {
            #expect(differences.isEmpty, Comment(rawValue: "\(name) differs from BuildKit (docker \(reference.docker)):\n  " + differences.joined(separator: "\n  ")))
        }
    }

    /// An ARG's history entry has its value (as BuildKit's), yet a new value of an ARG no step uses keeps the
    /// later steps cached: the key leaves the value out and a hit takes the history from its parent.
    @Test(.needs(.busybox, .runc)) func argValueIsInTheHistoryButNotInTheKeysOfStepsThatDoNotUseIt() throws {
        let f = try BuildFixture()
        try f.write("a.txt", "a\n")
        try f.write("Dockerfile", "FROM scratch\nARG VERSION=0\nCOPY a.txt /\nLABEL v=$VERSION\n")
        for (round, version) in ["1", "2"].enumerated() {
            let built = try f.build(["-t", "arg", "--build-arg", "VERSION=\(version)"])
            try #require(built.status == 0, "\(built.stderr)")
            let steps = BuildFixture.steps(built.stderr)
            #expect(steps.cached.contains { $0.contains("COPY a.txt /") } == (round == 1), "\(built.stderr)")
            let result = try ImgBinary.run(["-s", f.state, "inspect", "arg"])
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let history = ((json["config"] as? [String: Any])?["history"] as? [[String: Any]])?.compactMap { $0["created_by"] as? String }
            #expect(history == ["ARG VERSION=\(version)", "COPY a.txt / # buildkit", "LABEL v=\(version)"], "\(result.stdout)")
        }
    }

    /// `RUN --mount=type=bind,rw` (difference 8): the step writes to the bind, the writes are thrown away
    /// after it, and the context itself is never written.
    @Test(.needs(.busybox, .runc)) func rwBindTakesWritesAndThrowsThemAway() throws {
        let f = try BuildFixture()
        try f.write("a.txt", "original\n")
        try f.write("Dockerfile", """
            FROM scratch
            COPY busybox /bin/busybox
            RUN ["/bin/busybox", "--install", "-s", "/bin"]
            RUN --mount=type=bind,target=/mnt,rw echo changed > /mnt/a.txt && touch /mnt/new && cat /mnt/a.txt > /seen && ls /mnt >> /seen
            """)
        let built = try f.build(["-t", "rwbind"])
        try #require(built.status == 0, "\(built.stderr)")
        let rootfs = try f.unpack("rwbind")
        let seen = try String(contentsOfFile: rootfs.appending(path: "seen").path, encoding: .utf8)
        #expect(seen.hasPrefix("changed\n") && seen.contains("new"), "\(seen)")
        // Nothing written through the bind is in the layer (nor the mount point).
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: rootfs.appending(path: "mnt").path)) ?? []).isEmpty)
        #expect(try String(contentsOfFile: f.context.appending(path: "a.txt").path, encoding: .utf8) == "original\n")
        #expect(!FileManager.default.fileExists(atPath: f.context.appending(path: "new").path))
        let runtime = (try? FileManager.default.contentsOfDirectory(atPath: f.state + "/runtime")) ?? []
        #expect(!runtime.contains { $0.hasPrefix("bind-") }, "\(runtime)")
    }

    /// The data itself: every case has BuildKit's result, every known difference names a case, and the plain
    /// cases are identical.
    @Test func recordedDataCoversEveryCase() throws {
        let reference = try BuildKitReference.loaded.get()
        let names = Set(reference.cases.map(\.name))
        #expect(names.count == reference.cases.count, "case names repeat")
        #expect(Set(reference.buildkit.keys) == names, "buildkit.json does not match cases.json: run scripts/buildkit-reference")
        #expect(Set(reference.knownDifferences.keys).isSubset(of: names))
        for c in reference.cases where c.difference == nil {
            #expect(reference.knownDifferences[c.name] == nil, "plain case \(c.name) is recorded as differing")
        }
        #expect(reference.docker.hasPrefix("20.10"), "recorded with docker \(reference.docker)")
    }
}
