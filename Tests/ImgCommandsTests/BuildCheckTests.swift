import Foundation
import Testing
import ImgTestSupport

/// `img build --check` through the real binary.
@Suite struct BuildCheckTests {
    static let packageRoot = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test(arguments: ["examples/busybox", "examples/multistage"])
    func examplesAreClean(_ example: String) throws {
        let r = try ImgBinary.run(["build", "--check", example], cwd: Self.packageRoot)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "Check complete, no warnings found.\n")
    }

    @Test func warningsNameFileAndLineAndExitZero() throws {
        let dir = try TemporaryDirectory()
        try dir.write("Dockerfile", "FROM busybox AS Build\nMAINTAINER me\nCMD echo hi\n")
        let r = try ImgBinary.run(["build", "--check", "."], cwd: dir.url)
        #expect(r.status == 0)
        #expect(r.stdout == """
            Dockerfile:1: warning: StageNameCasing: Stage name 'Build' should be lowercase
            Dockerfile:2: warning: MaintainerDeprecated: MAINTAINER is deprecated; use a LABEL such as org.opencontainers.image.authors instead
            Dockerfile:3: warning: JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals
            Check complete, 3 warnings have been found!

            """)
    }

    @Test func errorTrueFailsAndSkipIsHonoured() throws {
        let dir = try TemporaryDirectory()
        try dir.write("Dockerfile", "# check=skip=JSONArgsRecommended;error=true\nFROM busybox\nCMD echo hi\nWORKDIR rel\n")
        let r = try ImgBinary.run(["build", "--check", dir.url.path])
        #expect(r.status == 1)
        #expect(r.stdout.contains("Dockerfile:4: error: WorkdirRelativePath:"))
        #expect(!r.stdout.contains("JSONArgsRecommended"))
        #expect(r.stdout.hasSuffix("Check complete, 1 error has been found!\n"))
        // The same options through the build arg BuildKit uses.
        try dir.write("Dockerfile", "FROM busybox\nCMD echo hi\n")
        let viaArg = try ImgBinary.run(["build", "--check", "--build-arg", "BUILDKIT_DOCKERFILE_CHECK=skip=all", "."], cwd: dir.url)
        #expect(viaArg.status == 0)
        #expect(viaArg.stdout == "Check complete, no warnings found.\n")
    }

    @Test(arguments: [
        ("FROM busybox\nFORM x\n", "error: Dockerfile:2: unknown instruction: FORM (did you mean FROM?)"),
        ("", "error: Dockerfile: file with no instructions"),
        ("# only a comment\n", "error: Dockerfile: file with no instructions"),
        ("FROM a\nCMD [\"a\", 1]\n", "error: Dockerfile:2: "),
        ("FROM a\nENV PATH\n", "error: Dockerfile:2: "),
        ("FROM a\nONBUILD FROM b\n", "error: Dockerfile:2: "),
        ("FROM a\nCOPY --form=x a b\n", "error: Dockerfile:2: "),
        ("FROM a AS one\nFROM two\nFROM b AS two\n", "error: Dockerfile:2: "),
    ])
    func brokenDockerfilesFailWithFileAndLine(text: String, expected: String) throws {
        let dir = try TemporaryDirectory()
        try dir.write("Dockerfile", text)
        let r = try ImgBinary.run(["build", "--check", "."], cwd: dir.url)
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix(expected), "stderr: \(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    @Test func unknownTargetListsStages() throws {
        let dir = try TemporaryDirectory()
        try dir.write("Dockerfile", "FROM a AS base\nFROM base AS app\n")
        let r = try ImgBinary.run(["build", "--check", "--target", "nope", "."], cwd: dir.url)
        #expect(r.status == 1)
        #expect(r.stderr.contains("target stage \"nope\" could not be found"))
        #expect(r.stderr.contains("base") && r.stderr.contains("app"))
        let ok = try ImgBinary.run(["build", "--check", "--target", "base", "."], cwd: dir.url)
        #expect(ok.status == 0)
    }

    @Test func debugShowsWhichStagesTheTargetNeeds() throws {
        let dir = try TemporaryDirectory()
        try dir.write("Dockerfile", "FROM a AS one\nFROM b AS two\nFROM one AS three\n")
        let r = try ImgBinary.run(["-d", "build", "--check", "--target", "three", "."], cwd: dir.url)
        #expect(r.status == 0)
        #expect(r.stderr.contains("stage one: needed for the target"))
        #expect(r.stderr.contains("stage two: not needed, skipped"))
    }

    @Test func dockerfileFromStdinAndNamedFile() throws {
        let dir = try TemporaryDirectory()
        let stdin = try ImgBinary.run(["build", "--check", "-f", "-", "."], stdin: "FROM a\nRUN true\n", cwd: dir.url)
        #expect(stdin.status == 0, "\(stdin.stderr)")
        try dir.write("build/App.Dockerfile", "FROM a\nfrom b\n")
        let named = try ImgBinary.run(["build", "--check", "-f", "build/App.Dockerfile", "."], cwd: dir.url)
        #expect(named.stdout.hasPrefix("build/App.Dockerfile:2: warning: ConsistentInstructionCasing:"))
    }

    @Test func buildArgsReachFromLinesAndUnusedOnesAreReported() throws {
        let dir = try TemporaryDirectory()
        try dir.write("Dockerfile", "ARG BASE\nFROM ${BASE}\n")
        let missing = try ImgBinary.run(["build", "--check", "."], cwd: dir.url)
        #expect(missing.status == 1, "an empty base name cannot be checked")
        let given = try ImgBinary.run(["build", "--check", "--build-arg", "BASE=busybox", "--build-arg", "EXTRA", "."],
                                      cwd: dir.url, environment: ["EXTRA": "1"])
        #expect(given.status == 0, "\(given.stderr)")
        #expect(given.stderr.contains("build-args [EXTRA] were not consumed"))
    }

    @Test func missingContextOrDockerfile() throws {
        let dir = try TemporaryDirectory()
        let noContext = try ImgBinary.run(["build", "--check", dir.url.appending(path: "nope").path])
        #expect(noContext.status == 1)
        #expect(noContext.stderr.contains("not found or not a directory"))
        let noFile = try ImgBinary.run(["build", "--check", "."], cwd: dir.url)
        #expect(noFile.status == 1)
        #expect(noFile.stderr.contains("failed to read Dockerfile"))
        let noCheck = try ImgBinary.run(["-s", dir.url.appending(path: "state").path, "build", "-t", "x", "."], cwd: dir.url)
        #expect(noCheck.status == 1)
        #expect(noCheck.stderr.contains("failed to read Dockerfile"), "\(noCheck.stderr)")
    }

    // Resource bombs: each crashed img (SIGILL, SIGSEGV) or grew without bound before it was capped.

    static func check(_ text: String) throws -> ImgBinary.Result {
        let dir = try TemporaryDirectory()
        try dir.write("Dockerfile", text)
        return try ImgBinary.run(["build", "--check", "."], cwd: dir.url)
    }

    @Test func healthcheckDurationOverflowIsAnError() throws {
        let r = try Self.check("FROM scratch\nHEALTHCHECK --interval=9999999999s CMD true\n")
        #expect(r.status == 1)
        #expect(r.stderr == "error: Dockerfile:2: duration '9999999999s' for HEALTHCHECK --interval is out of range (at most 2562047h47m16.854775807s)\n")
    }

    @Test func deepNestingIsAnError() throws {
        let nested = String(repeating: "${a:-", count: 7000) + "x" + String(repeating: "}", count: 7000)
        let r = try Self.check("FROM scratch\nENV b=\(nested)\n")
        #expect(r.status == 1)
        #expect(r.stderr == "error: Dockerfile:2: variable substitutions nested more than 64 levels deep\n")
    }

    @Test func argDoublingIsAnError() throws {
        let r = try Self.check("FROM scratch\nARG A=xxxxxxxxxxxxxxxx\n" + String(repeating: "ARG A=$A$A\n", count: 30))
        #expect(r.status == 1)
        #expect(r.stderr == "error: Dockerfile:19: expanded word is longer than 1 MiB (1048576 characters)\n")
    }

    @Test func tenThousandEnvLinesCheckAndBuild() throws {
        let dir = try TemporaryDirectory()
        var text = "FROM scratch\n"
        for i in 0..<10_000 { text += "ENV V\(i)=\(i)\n" }
        try dir.write("Dockerfile", text)
        let check = try ImgBinary.run(["build", "--check", "."], cwd: dir.url)
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout == "Check complete, no warnings found.\n")
        let state = dir.url.appending(path: "state").path
        let build = try ImgBinary.run(["-s", state, "build", "--no-console", "-o", "type=oci,dest=out.tar", "."],
                                      cwd: dir.url)
        #expect(build.status == 0, "\(build.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.url.appending(path: "out.tar").path))
    }
}
