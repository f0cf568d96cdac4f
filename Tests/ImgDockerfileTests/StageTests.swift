import Testing
import ImgDockerfile

@Suite struct StageTests {
    private func plan(_ text: String, target: String? = nil, args: [String: String] = [:],
                      build: BuildPlatform = amd64, targetPlatform: BuildPlatform? = nil) throws -> BuildPlan {
        try BuildPlanner.plan(text, options: BuildOptions(target: target, buildArgs: args, buildPlatform: build,
                                                          targetPlatform: targetPlatform))
    }

    private func value(_ name: String, in stage: Stage) -> String? {
        stage.args.last { $0.name == name }?.value
    }

    private func workdir(_ stage: Stage) -> String? {
        for instruction in stage.instructions.reversed() {
            if case .workdir(let path) = instruction.command { return path }
        }
        return nil
    }

    @Test func stagesSplitAtFrom() throws {
        let p = try plan("""
            ARG V=1
            FROM alpine AS base
            RUN true
            FROM base
            COPY a b
            """)
        #expect(p.allStages.count == 2)
        #expect(p.allStages[0].name == "base")
        #expect(p.allStages[0].instructions.map(\.keyword) == [.run])
        #expect(p.allStages[1].base == .stage(0))
        #expect(p.allStages[1].name == nil)
        #expect(p.allStages[1].startLine == 4)
        #expect(p.allStages[1].endLine == 5)
        #expect(p.globalArgs == [ArgValue(name: "V", value: "1")])
        #expect(p.target.index == 1)
    }

    @Test func globalArgOnlyInFromUnlessRedeclared() throws {
        let p = try plan("""
            ARG VERSION=3.19
            FROM alpine:${VERSION} AS a
            WORKDIR /v$VERSION
            FROM alpine AS b
            ARG VERSION
            WORKDIR /v$VERSION
            FROM alpine AS c
            ARG VERSION=local
            WORKDIR /v$VERSION
            """)
        #expect(p.allStages[0].base == .image("alpine:3.19"))
        #expect(workdir(p.allStages[0]) == "/v")
        #expect(workdir(p.allStages[1]) == "/v3.19")
        #expect(workdir(p.allStages[2]) == "/vlocal")
    }

    @Test func buildArgsOverrideDefaults() throws {
        let text = """
            ARG VERSION=3.19
            FROM alpine:$VERSION
            ARG MODE=debug
            ARG VERSION
            WORKDIR /$MODE/$VERSION
            """
        let defaults = try plan(text)
        #expect(workdir(defaults.target) == "/debug/3.19")
        let overridden = try plan(text, args: ["MODE": "release", "VERSION": "3.20", "UNUSED": "x"])
        #expect(overridden.target.base == .image("alpine:3.20"))
        #expect(workdir(overridden.target) == "/release/3.20")
        #expect(overridden.unusedBuildArgs == ["UNUSED"])
    }

    @Test func buildArgsOfUnbuiltStagesAreUnused() throws {
        let p = try plan("FROM alpine AS other\nARG ONLY_OTHER\nFROM alpine\nARG MINE\n",
                         args: ["ONLY_OTHER": "1", "MINE": "2"])
        #expect(p.unusedBuildArgs == ["ONLY_OTHER"])
        #expect(p.target.args == [ArgValue(name: "MINE", value: "2")])
    }

    @Test func buildArgWithoutDeclarationIsNotVisible() throws {
        let p = try plan("FROM alpine\nWORKDIR /x$SECRET\n", args: ["SECRET": "s"])
        #expect(workdir(p.target) == "/x")
        #expect(p.unusedBuildArgs == ["SECRET"])
    }

    @Test func predefinedPlatformArgs() throws {
        let p = try plan("""
            FROM --platform=$BUILDPLATFORM golang AS build
            ARG TARGETOS TARGETARCH BUILDARCH
            WORKDIR /out/$TARGETOS/$TARGETARCH/$BUILDARCH/$TARGETVARIANT
            FROM alpine:$TARGETARCH
            """, build: amd64, targetPlatform: BuildPlatform(parsing: "linux/arm/v7"))
        #expect(p.allStages[0].platform == amd64)
        #expect(value("TARGETARCH", in: p.allStages[0]) == "arm")
        // TARGETVARIANT was not declared in the stage, so it expands to nothing there.
        #expect(workdir(p.allStages[0]) == "/out/linux/arm/amd64/")
        #expect(p.allStages[1].base == .image("alpine:arm"))
    }

    @Test func targetStageArg() throws {
        let p = try plan("FROM alpine AS one\nARG TARGETSTAGE\nFROM alpine AS two\nARG TARGETSTAGE\n", target: "one")
        #expect(value("TARGETSTAGE", in: p.allStages[0]) == "one")
    }

    @Test func proxyArgsNeedNoDeclaration() throws {
        let p = try plan("FROM alpine\nRUN true\n", args: ["HTTP_PROXY": "http://proxy:3128", "no_proxy": "local"])
        #expect(p.target.proxyArgs == [KeyValue("HTTP_PROXY", "http://proxy:3128"), KeyValue("no_proxy", "local")])
        #expect(p.unusedBuildArgs.isEmpty)
    }

    @Test func envAndArgScoping() throws {
        let p = try plan("""
            FROM alpine AS base
            ARG A=arg
            ENV A=env B=$A
            ENV C=$A
            FROM base AS child
            ENV D=$C
            WORKDIR /$A
            """)
        #expect(p.allStages[0].environment == [KeyValue("A", "env"), KeyValue("B", "arg"), KeyValue("C", "env")])
        // ENV is inherited from the parent stage; ARGs are not, but A is also an ENV.
        #expect(p.allStages[1].environment.last == KeyValue("D", "env"))
        #expect(workdir(p.allStages[1]) == "/env")
    }

    @Test func envWinsOverArgWhateverTheOrder() throws {
        let p = try plan("FROM alpine\nARG A=1\nENV A=2\nARG A=3\nWORKDIR /$A\n", args: ["A": "4"])
        #expect(workdir(p.target) == "/2")
        #expect(p.target.args == [ArgValue(name: "A", value: "4")])
    }

    @Test func argRedeclaredWithoutValueKeepsItsValue() throws {
        let p = try plan("ARG A=g\nFROM alpine\nARG A=1\nARG A\nWORKDIR /x$A\n")
        #expect(workdir(p.target) == "/x1")
    }

    @Test func sameLineEnvSeesOldValues() throws {
        let p = try plan("FROM alpine\nENV A=old\nENV A=new B=$A\n")
        #expect(p.target.environment == [KeyValue("A", "new"), KeyValue("B", "old")])
    }

    @Test func expansionOfFlagsAndSources() throws {
        let p = try plan("""
            FROM alpine AS build
            FROM alpine
            ARG SRC=build U=app P=8080 V=/data
            COPY --from=$SRC --chown=$U:$U /out/${U} /srv/
            EXPOSE $P ${P}/udp
            VOLUME $V
            USER $U
            LABEL "name"="$U"
            STOPSIGNAL SIG$U
            RUN --mount=type=cache,target=/cache/$U echo $U
            CMD echo $U
            """)
        let stage = p.target
        #expect(stage.instructions[1].copyCommand
            == CopyCommand(sources: [.path("/out/app")], destination: "/srv/", from: "build", chown: "app:app"))
        #expect(stage.instructions[2].command == .expose(["8080", "8080/udp"]))
        #expect(stage.instructions[3].command == .volume(["/data"]))
        #expect(stage.instructions[4].command == .user("app"))
        #expect(stage.instructions[5].command == .label(KeyValueCommand(pairs: [KeyValue("name", "app")])))
        #expect(stage.instructions[6].command == .stopSignal("SIGapp"))
        #expect(stage.instructions[7].runCommand?.mounts.first?.target == "/cache/app")
        #expect(stage.instructions[7].runCommand?.command == .shell("echo $U"))  // RUN is left to the shell
        #expect(stage.instructions[8].command == .cmd(.shell("echo $U")))
        #expect(stage.dependencies == [StageReference(stage: 0, line: 4, kind: .copyFrom)])
    }

    @Test func stageReferencesByNameIndexAndImage() throws {
        let p = try plan("""
            FROM alpine AS Builder
            FROM scratch AS assets
            FROM builder
            COPY --from=1 a b
            COPY --from=BUILDER c d
            COPY --from=nginx:latest e f
            RUN --mount=from=assets,target=/a true
            """)
        let last = p.target
        #expect(last.base == .stage(0))
        #expect(p.allStages[1].base == .scratch)
        #expect(last.dependencies == [
            StageReference(stage: 0, line: 3, kind: .from), StageReference(stage: 1, line: 4, kind: .copyFrom),
            StageReference(stage: 0, line: 5, kind: .copyFrom), StageReference(stage: 1, line: 7, kind: .mountFrom),
        ])
        #expect(last.externalImages == ["nginx:latest"])
        #expect(p.stages.map(\.index) == [0, 1, 2])
    }

    @Test func mountFromIsExpandedAndResolved() throws {
        let p = try plan("FROM alpine AS tools\nFROM alpine\nARG T=tools\nRUN --mount=from=$T,target=/t,source=/bin x\n")
        #expect(p.target.dependencies == [StageReference(stage: 0, line: 4, kind: .mountFrom)])
        #expect(p.target.instructions[1].runCommand?.mounts == [
            RunMount(type: .bind, target: "/t", source: "/bin", from: "tools", readOnly: true),
        ])
        #expect(p.stages.count == 2)
    }

    @Test func fromOwnNameIsTheImage() throws {
        let p = try plan("FROM alpine AS alpine\nFROM alpine\n")
        #expect(p.allStages[0].base == .image("alpine"))
        #expect(p.allStages[1].base == .stage(0))
    }

    @Test func targetSelectsAndDropsUnreachable() throws {
        let text = """
            FROM alpine AS deps
            FROM alpine AS build
            COPY --from=deps / /
            FROM alpine AS test
            COPY --from=build / /
            FROM scratch AS release
            COPY --from=build /app /app
            """
        let release = try plan(text)
        #expect(release.target.name == "release")
        #expect(release.stages.map(\.name) == ["deps", "build", "release"])
        #expect(release.allStages.map(\.isReachable) == [true, true, false, true])
        let build = try plan(text, target: "BUILD")
        #expect(build.target.name == "build")
        #expect(build.stages.map(\.name) == ["deps", "build"])
        #expect(build.allStages.count == 4)
    }

    @Test func unknownTargetListsStages() {
        let error = planError("FROM a AS build\nFROM b AS release\n", options: BuildOptions(target: "relase"))
        #expect(error?.description
            == "Dockerfile: target stage \"relase\" could not be found (did you mean release?); stages: build, release")
        let unnamed = planError("FROM a\n", options: BuildOptions(target: "x"))
        #expect(unnamed?.message == "target stage \"x\" could not be found; the Dockerfile has no named stages")
    }

    @Test func forwardFromReferenceIsRejected() {
        let error = planError("FROM alpine\nFROM later\nFROM alpine AS later\n")
        #expect(error?.line == 2)
        #expect(error?.message.hasPrefix("FROM later refers to stage \"later\", which is defined later (line 3)") == true)
    }

    @Test func selfReferenceIsRejected() {
        let error = planError("FROM alpine AS a\nRUN true\nCOPY --from=a x y\n")
        #expect(error?.description == "Dockerfile:3: COPY --from=a refers to its own stage (a)")
        let byIndex = planError("FROM alpine\nCOPY --from=0 x y\n")
        #expect(byIndex?.line == 2)
        #expect(planError("FROM alpine\nCOPY --from=7 x y\n")?.message
            == "COPY --from=7 is not a valid stage index; the Dockerfile has 1 stage(s)")
    }

    @Test func cycleIsRejected() {
        let error = planError("""
            FROM alpine AS a
            COPY --from=b x y
            FROM alpine AS b
            COPY --from=a x y
            """)
        #expect(error?.description == "Dockerfile:4: circular dependency between stages: a -> b -> a")
    }

    @Test func laterStageByCopyIsAllowedWithoutCycle() throws {
        // BuildKit resolves COPY --from against every stage, not only earlier ones.
        let p = try plan("FROM alpine AS a\nCOPY --from=b x y\nFROM alpine AS b\n", target: "a")
        #expect(p.stages.map(\.name) == ["a", "b"])
    }

    @Test(arguments: [
        ("RUN true\nFROM alpine\n", 1, "no build stage in current context: RUN must come after FROM"),
        ("ARG X\n", nil, "the Dockerfile contains no stages to build (no FROM)"),
        ("ARG B\nFROM $B\n", 2, "base name ($B) should not be blank"),
        ("FROM --platform=weird alpine\n", 1, "invalid platform \"weird\" in FROM --platform"),
    ] as [(String, Int?, String)])
    func planErrors(text: String, line: Int?, message: String) {
        let error = planError(text)
        #expect(error?.line == line)
        #expect(error?.message == message)
    }

    @Test func expansionErrorOnlyForBuiltStages() throws {
        let text = "FROM alpine AS broken\nWORKDIR ${X:?must be set}\nFROM alpine AS ok\n"
        let p = try plan(text, target: "ok")
        #expect(p.stages.map(\.name) == ["ok"])
        #expect(planError(text, options: BuildOptions(target: "broken"))?.line == 2)
    }

    @Test func escapeDirectiveReachesTheLexer() throws {
        let p = try plan("# escape=`\nFROM alpine\nARG A=x\nWORKDIR /a`$A/$A\n")
        #expect(workdir(p.target) == "/a$A/x")
    }
}
