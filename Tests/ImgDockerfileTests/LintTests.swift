import Testing
import ImgDockerfile

struct LintCase: Sendable, CustomTestStringConvertible {
    var rule: LintRule
    var fires: String
    /// `line: message` for each finding of `rule`.
    var expected: [String]
    var quiet: String
    /// --build-arg values for both files.
    var args: [String: String] = [:]
    var testDescription: String { rule.name }
}

private func findings(_ text: String, _ rule: LintRule, args: [String: String] = [:]) throws -> [String] {
    try DockerfileCheck.run(text, buildArgs: args, buildPlatform: amd64).findings
        .filter { $0.rule == rule }.map { "\($0.line): \($0.message)" }
}

@Suite struct LintTests {
    static let cases: [LintCase] = [
        LintCase(rule: .stageNameCasing, fires: "FROM alpine AS Build\n",
                 expected: ["1: Stage name 'Build' should be lowercase"],
                 quiet: "FROM alpine AS build\n"),
        LintCase(rule: .fromAsCasing, fires: "FROM alpine as build\nfrom alpine AS x\n",
                 expected: ["1: 'as' and 'FROM' keywords' casing do not match",
                            "2: 'AS' and 'from' keywords' casing do not match"],
                 quiet: "FROM alpine AS build\nfrom alpine as x\n"),
        LintCase(rule: .noEmptyContinuation, fires: "FROM alpine\nRUN echo a \\\n\n  b\n",
                 expected: ["4: Empty continuation line"],
                 quiet: "FROM alpine\nRUN echo a \\\n  b\n"),
        LintCase(rule: .consistentInstructionCasing, fires: "FROM alpine\nRUN a\nrun b\nCopy a b\n",
                 expected: ["3: Instruction 'run' should be uppercase like most instructions in the file",
                            "4: Instruction 'Copy' should be uppercase like most instructions in the file"],
                 quiet: "from alpine\nrun a\ncopy a b\n"),
        LintCase(rule: .duplicateStageName, fires: "FROM alpine AS a\nFROM alpine AS A\n",
                 expected: ["2: Duplicate stage name 'A'; stage names should be unique"],
                 quiet: "FROM alpine AS a\nFROM alpine AS b\n"),
        LintCase(rule: .reservedStageName, fires: "FROM alpine AS scratch\nFROM alpine AS context\n",
                 expected: ["1: Stage name should not be the reserved name 'scratch'",
                            "2: Stage name should not be the reserved name 'context'"],
                 quiet: "FROM scratch AS base\n"),
        LintCase(rule: .jsonArgsRecommended, fires: "FROM alpine\nCMD echo hi\nENTRYPOINT /app\n",
                 expected: [
                    "2: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals",
                    "3: JSON arguments recommended for ENTRYPOINT to prevent unintended behavior related to OS signals",
                 ],
                 quiet: "FROM alpine\nCMD [\"echo\", \"hi\"]\nFROM alpine AS s\nSHELL [\"/bin/bash\", \"-c\"]\nCMD echo hi\n"),
        LintCase(rule: .maintainerDeprecated, fires: "FROM alpine\nMAINTAINER me\n",
                 expected: ["2: MAINTAINER is deprecated; use a LABEL such as org.opencontainers.image.authors instead"],
                 quiet: "FROM alpine\nLABEL org.opencontainers.image.authors=me\n"),
        LintCase(rule: .undefinedArgInFrom, fires: "ARG VERSION=1\nFROM alpine:$VERSIN\nFROM $REGISTRY/x\n",
                 expected: ["2: FROM argument 'VERSIN' is not declared (did you mean VERSION?)",
                            "3: FROM argument 'REGISTRY' is not declared"],
                 quiet: "ARG VERSION\nFROM alpine:$VERSION\nFROM --platform=$TARGETPLATFORM alpine:$TARGETARCH\nFROM ${BASE:-alpine}\n"),
        LintCase(rule: .workdirRelativePath, fires: "FROM alpine\nWORKDIR app\n",
                 expected: ["2: Relative workdir 'app' can have unexpected results if the base image changes"],
                 quiet: "FROM alpine AS base\nWORKDIR /srv\nWORKDIR app\nFROM base\nWORKDIR sub\n"),
        LintCase(rule: .undefinedVar,
                 fires: "ARG G=1\nFROM alpine\nARG VERSION=1\nCOPY app-$VERSON /x/$G\nENV PATH=/bin:$PATH\n",
                 expected: ["4: Usage of undefined variable '$G'",
                            "4: Usage of undefined variable '$VERSON' (did you mean $VERSION?)"],
                 quiet: """
                    FROM alpine AS base
                    ARG A
                    ENV E=1
                    COPY $A$E /x
                    RUN echo $NOT_EXPANDED_BY_BUILDKIT
                    FROM base
                    WORKDIR /$E/$HTTP_PROXY
                    LABEL v=${VERSION:-dev} w=${W:+set} x=${X-none}
                    """),
        LintCase(rule: .multipleInstructionsDisallowed,
                 fires: "FROM alpine\nCMD [\"a\"]\nHEALTHCHECK NONE\nCMD [\"b\"]\nHEALTHCHECK NONE\nCMD [\"c\"]\n",
                 expected: [
                    "2: Multiple CMD instructions should not be used in the same stage because only the last one will be used",
                    "3: Multiple HEALTHCHECK instructions should not be used in the same stage because only the last one will be used",
                    "4: Multiple CMD instructions should not be used in the same stage because only the last one will be used",
                 ],
                 quiet: "FROM alpine\nCMD [\"a\"]\nENTRYPOINT [\"b\"]\nFROM alpine\nCMD [\"c\"]\n"),
        LintCase(rule: .legacyKeyValueFormat, fires: "FROM alpine\nENV A b c\nLABEL x y\n",
                 expected: ["2: \"ENV key=value\" should be used instead of legacy \"ENV key value\" format",
                            "3: \"LABEL key=value\" should be used instead of legacy \"LABEL key value\" format"],
                 quiet: "FROM alpine\nENV A=\"b c\"\nLABEL x=y\n"),
        LintCase(rule: .secretsUsedInArgOrEnv,
                 fires: "ARG GITHUB_TOKEN\nFROM alpine\nARG db_password=x\nENV AWS_SECRET_ACCESS_KEY=y ApiKey=z\n",
                 expected: [
                    "1: Do not use ARG or ENV instructions for sensitive data (ARG \"GITHUB_TOKEN\")",
                    "3: Do not use ARG or ENV instructions for sensitive data (ARG \"db_password\")",
                    "4: Do not use ARG or ENV instructions for sensitive data (ENV \"AWS_SECRET_ACCESS_KEY\")",
                    "4: Do not use ARG or ENV instructions for sensitive data (ENV \"ApiKey\")",
                 ],
                 quiet: "FROM alpine\nARG PUBLIC_KEY\nARG KEYBOARD MONKEY TOKENS\nENV AUTHOR=me\n"),
        LintCase(rule: .invalidDefaultArgInFrom,
                 fires: "ARG TAG\nARG IMAGE\nARG UPPER=Alpine\nFROM alpine:${TAG}\nFROM $IMAGE\nFROM ${UPPER}\n",
                 expected: ["4: Default value for ARG alpine:${TAG} results in empty or invalid base image name",
                            "5: Default value for ARG $IMAGE results in empty or invalid base image name",
                            "6: Default value for ARG ${UPPER} results in empty or invalid base image name"],
                 quiet: "ARG TAG=3.20\nARG IMAGE=ghcr.io/org/app\nARG STAGE=base\nFROM alpine:${TAG} AS base\nFROM $IMAGE:$TAG\nFROM ${UNDECLARED}x\nFROM $STAGE\n",
                 args: ["IMAGE": "alpine", "TAG": "3"]),
        LintCase(rule: .redundantTargetPlatform,
                 fires: "FROM --platform=$TARGETPLATFORM alpine\nFROM --platform=${TARGETPLATFORM} alpine\n",
                 expected: [
                    "1: Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior",
                    "2: Setting platform to predefined ${TARGETPLATFORM} in FROM is redundant as this is the default behavior",
                 ],
                 quiet: "FROM --platform=$BUILDPLATFORM alpine\nFROM alpine\n"),
        LintCase(rule: .fromPlatformFlagConstDisallowed, fires: "FROM --platform=linux/amd64 alpine AS base\n",
                 expected: ["1: FROM --platform flag should not use constant value \"linux/amd64\""],
                 quiet: "FROM --platform=linux/amd64 alpine AS build_amd64\nFROM --platform=$BUILDPLATFORM alpine\n"),
    ]

    @Test(arguments: cases)
    func ruleFires(_ c: LintCase) throws {
        #expect(try findings(c.fires, c.rule, args: c.args) == c.expected)
    }

    @Test(arguments: cases)
    func ruleStaysQuiet(_ c: LintCase) throws {
        #expect(try findings(c.quiet, c.rule, args: c.args) == [])
    }

    @Test(arguments: [
        (LintRule.jsonArgsRecommended, "https://docs.docker.com/go/dockerfile/rule/json-args-recommended/"),
        (.undefinedArgInFrom, "https://docs.docker.com/go/dockerfile/rule/undefined-arg-in-from/"),
        (.fromAsCasing, "https://docs.docker.com/go/dockerfile/rule/from-as-casing/"),
    ])
    func documentationURL(rule: LintRule, url: String) {
        #expect(rule.documentationURL == url)
    }

    @Test func everyRuleHasACase() {
        #expect(Set(Self.cases.map(\.rule)) == Set(LintRule.allCases))
    }

    @Test(arguments: [
        ("API_KEY", true), ("apikey", true), ("MY_AUTH", true), ("credentials", true), ("DB_PWORD", true),
        ("passwd", true), ("PUBLIC_KEY", false), ("KEYS", false), ("MONKEY", false), ("AUTHOR", false),
        ("TOKENIZER", false), ("token_public_x", false), ("SECRET_", true),
    ])
    func secretNames(name: String, isSecret: Bool) {
        #expect(Linter.looksLikeSecret(name) == isSecret)
    }

    @Test(arguments: [
        ("${A:-x}", true), ("${A-x}", true), ("${A:+x}", true), ("${A:?x}", true), ("$A", false),
        ("${A}", false), ("${A:-x}$A", false), ("${A%x}", false), ("${AB:-x}$A", false), ("$AB ${A-x}", true),
    ])
    func fallbackForms(word: String, suppressed: Bool) {
        #expect(UndefinedVariable.onlyWithFallback("A", in: word) == suppressed)
    }

    @Test func undefinedVarInMountOptionsAndExpose() throws {
        let text = "FROM alpine\nARG CACHE=/c\nRUN --mount=type=cache,target=$CACHE/$MISING true\nEXPOSE $PORT\n"
        #expect(try findings(text, .undefinedVar) == [
            "3: Usage of undefined variable '$MISING'", "4: Usage of undefined variable '$PORT'",
        ])
    }

    @Test(arguments: [
        ("alpine", true), ("alpine:3.20", true), ("ghcr.io/org/app:v1", true), ("localhost:5000/a/b", true),
        ("a__b/c---d", true), ("alpine@sha256:" + String(repeating: "a", count: 64), true),
        ("", false), ("alpine:", false), ("Alpine", false), (":tag", false), ("a//b", false), ("a b", false),
        ("-a", false), ("a._b", false), ("alpine:-x", false), ("alpine@sha256:xyz", false),
    ])
    func imageReferenceSyntax(reference: String, valid: Bool) {
        #expect(ImageReferenceSyntax.isValid(reference) == valid)
    }

    @Test func unreachableStagesAreLintedToo() throws {
        let text = "FROM alpine AS unused\nMAINTAINER me\nFROM alpine AS final\n"
        #expect(try findings(text, .maintainerDeprecated).count == 1)
    }

    @Test func findingsAreSortedByLine() throws {
        let report = try DockerfileCheck.run("FROM alpine AS Build\nMAINTAINER x\nCMD a\nENV A b\n")
        #expect(report.findings.map(\.line) == [1, 2, 3, 4])
        #expect(report.findings.map(\.rule) == [.stageNameCasing, .maintainerDeprecated, .jsonArgsRecommended,
                                                 .legacyKeyValueFormat])
    }

    @Test func findingDescription() {
        let finding = LintFinding(rule: .undefinedVar, message: "Usage of undefined variable '$X'",
                                  file: "Dockerfile", line: 7)
        #expect(finding.description == "Dockerfile:7: warning: UndefinedVar: Usage of undefined variable '$X'")
        var error = finding
        error.severity = .error
        #expect(error.description == "Dockerfile:7: error: UndefinedVar: Usage of undefined variable '$X'")
    }
}
