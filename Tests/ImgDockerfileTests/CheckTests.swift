import Testing
import ImgDockerfile

@Suite struct CheckTests {
    static let noisy = """
        FROM alpine AS Build
        MAINTAINER me
        CMD echo hi
        FROM alpine AS final
        """

    @Test func reportShape() throws {
        let report = try DockerfileCheck.run(Self.noisy, file: "app/Dockerfile", target: "build")
        #expect(report.lines == [
            "app/Dockerfile:1: warning: StageNameCasing: Stage name 'Build' should be lowercase",
            "app/Dockerfile:2: warning: MaintainerDeprecated: MAINTAINER is deprecated; use a LABEL such as org.opencontainers.image.authors instead",
            "app/Dockerfile:3: warning: JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals",
        ])
        #expect(!report.hasErrors)
        #expect(report.summary == "Check complete, 3 warnings have been found!")
        #expect(report.stages.map(\.name) == ["Build", "final"])
        #expect(report.stages.map(\.isReachable) == [true, false])
        #expect(report.plan.target.name == "build")
    }

    @Test func cleanFile() throws {
        let report = try DockerfileCheck.run(Array("FROM alpine\nCMD [\"true\"]\n".utf8))
        #expect(report.findings.isEmpty)
        #expect(report.summary == "Check complete, no warnings found.")
    }

    @Test(arguments: [
        ("# check=skip=StageNameCasing,MaintainerDeprecated\n", [LintRule.jsonArgsRecommended], false),
        ("# check=skip=all\n", [], false),
        ("# check=error=true\n", [.stageNameCasing, .maintainerDeprecated, .jsonArgsRecommended], true),
        ("# check=skip=jsonargsrecommended;error=true\n", [.stageNameCasing, .maintainerDeprecated], true),
        ("# check=skip=NoSuchRule\n", [.stageNameCasing, .maintainerDeprecated, .jsonArgsRecommended], false),
    ])
    func checkDirective(directive: String, rules: [LintRule], errors: Bool) throws {
        let report = try DockerfileCheck.run(directive + Self.noisy)
        #expect(report.findings.map(\.rule) == rules)
        #expect(report.hasErrors == errors)
        #expect(report.findings.allSatisfy { $0.severity == (errors ? .error : .warning) })
    }

    @Test func errorSeverityInLinesAndSummary() throws {
        let report = try DockerfileCheck.run("# check=error=true\nFROM alpine\nMAINTAINER me\n")
        #expect(report.lines == [
            "Dockerfile:3: error: MaintainerDeprecated: MAINTAINER is deprecated; use a LABEL such as org.opencontainers.image.authors instead",
        ])
        #expect(report.summary == "Check complete, 1 error has been found!")
    }

    @Test func buildArgOverridesDirective() throws {
        let report = try DockerfileCheck.run(
            "# check=error=true\n" + Self.noisy,
            buildArgs: ["BUILDKIT_DOCKERFILE_CHECK": "skip=StageNameCasing"])
        #expect(report.findings.map(\.rule) == [.maintainerDeprecated, .jsonArgsRecommended])
        #expect(!report.hasErrors)
        #expect(report.unusedBuildArgs.isEmpty)  // a frontend arg, not an unused one
    }

    @Test func callerOptionsOverrideEverything() throws {
        let options = CheckOptions(skip: [.maintainerDeprecated], errorOnFindings: true)
        let report = try DockerfileCheck.run(
            "# check=skip=all\n" + Self.noisy, buildArgs: ["BUILDKIT_DOCKERFILE_CHECK": "skip=all"],
            checkOptions: options)
        #expect(report.findings.map(\.rule) == [.stageNameCasing, .jsonArgsRecommended])
        #expect(report.hasErrors)
    }

    @Test func checkOptionParsing() throws {
        let options = try CheckOptions(parsing: " skip = UndefinedVar , FromAsCasing ; error = true ; experimental=all")
        #expect(options.skip == [.undefinedVar, .fromAsCasing])
        #expect(options.errorOnFindings)
        #expect(options.experimental == ["all"])
        #expect(!options.isEnabled(.undefinedVar))
        #expect(options.isEnabled(.stageNameCasing))
        #expect(throws: DockerfileError("check", "unknown check option \"ignore\" (use skip, error or experimental)")) {
            try CheckOptions(parsing: "ignore=all")
        }
    }

    @Test func badCheckDirectiveIsAnErrorOnItsLine() {
        #expect(throws: DockerfileError("check", "invalid boolean \"maybe\" for check option error", file: "Dockerfile",
                                        line: 1)) {
            try DockerfileCheck.run("# check=error=maybe\nFROM alpine\n")
        }
    }

    @Test(arguments: [
        ("FROM alpine\nFORM x\n", "Dockerfile:2: unknown instruction: FORM (did you mean FROM?)"),
        ("FROM alpine\nCOPY --chmodd=1 a b\n", "Dockerfile:2: unknown flag --chmodd for COPY (did you mean --chmod?)"),
        ("FROM alpine AS a\nFROM alpine\n", nil),
    ] as [(String, String?)])
    func errorsAreThrown(text: String, expected: String?) {
        do {
            _ = try DockerfileCheck.run(text)
            #expect(expected == nil)
        } catch {
            #expect(error.description == expected)
        }
    }

    @Test func unknownTargetIsThrown() {
        #expect(throws: DockerfileError("stage", "target stage \"nope\" could not be found; stages: a",
                                        file: "Dockerfile")) {
            try DockerfileCheck.run("FROM alpine AS a\n", target: "nope")
        }
    }

    @Test func platformsAndBuildArgsReachThePlan() throws {
        let report = try DockerfileCheck.run(
            "ARG TAG=1\nFROM --platform=$TARGETPLATFORM alpine:$TAG\n", buildArgs: ["TAG": "2", "EXTRA": "x"],
            buildPlatform: amd64, targetPlatform: arm64)
        #expect(report.plan.target.base == .image("alpine:2"))
        #expect(report.plan.target.platform == arm64)
        #expect(report.unusedBuildArgs == ["EXTRA"])
    }

    @Test func crlfAndBomInput() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("FROM alpine\r\nMAINTAINER me\r\n".utf8)
        let report = try DockerfileCheck.run(bytes)
        #expect(report.findings.map(\.line) == [2])
    }
}
