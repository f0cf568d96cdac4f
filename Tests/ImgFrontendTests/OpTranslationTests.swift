import ImgDockerfile
import ImgFrontend
import ImgGraph
import ImgOCI
import Testing

/// The frontend alone: Dockerfiles planned and turned into op graphs, without a worker, a store or a runtime.
@Suite struct OpTranslationTests {
    func definition(_ dockerfile: String, target: String? = nil, args: [String: String] = [:]) throws -> BuildDefinition {
        let plan = try BuildPlanner.plan(dockerfile, options: BuildOptions(target: target, buildArgs: args))
        return BuildDefinition(plan: plan)
    }

    func steps(_ definition: BuildDefinition) -> [BuildStep] {
        definition.graph.vertices.map(\.operation)
    }

    @Test func stagesTheTargetDoesNotNeedAreNotInTheGraph() throws {
        let built = try definition("""
            FROM busybox AS unused
            RUN echo never
            FROM scratch AS app
            COPY a /a
            """)
        let ops = steps(built)
        #expect(ops.count == 2)
        #expect(ops[0].op == .source(.scratch(platform: nil)))
        #expect(ops[0].title == "[app 1/2] FROM scratch AS app")
        #expect(ops[1].title == "[app 2/2] COPY a /a")
        #expect(built.target == built.graph.vertices.count - 1)
    }

    @Test func fromNamesTheImageAfterArgExpansionAndKeepsItsPlatform() throws {
        let built = try definition("""
            ARG REGISTRY=example.com
            FROM --platform=linux/arm64/v8 ${REGISTRY}/busybox:1
            """)
        let from = try #require(steps(built).first)
        // arm64/v8 is arm64, as the planner normalises it.
        let arm = Platform(os: "linux", architecture: "arm64")
        #expect(from.op == .source(.image("example.com/busybox:1", platform: arm)))
        #expect(from.title == "[1/1] FROM example.com/busybox:1")
        #expect(from.line == 2)
    }

    @Test func aRunThatIsOnlyAHeredocRunsItsBody() throws {
        let built = try definition("FROM busybox\nRUN <<EOF\necho one\necho two\nEOF\n")
        guard case .exec(let exec) = steps(built)[1].op else { Issue.record("not an exec op"); return }
        #expect(exec.command == .shell("echo one\necho two\n"))
        #expect(exec.createdBy(shell: nil) == "RUN /bin/sh -c echo one\necho two\n # buildkit")
    }

    @Test func otherHeredocsAreAppendedToTheScript() throws {
        let built = try definition("FROM busybox\nRUN cat <<EOF > /f\nhello\nEOF\n")
        guard case .exec(let exec) = steps(built)[1].op else { Issue.record("not an exec op"); return }
        #expect(exec.command == .shell("cat <<EOF > /f\nhello\nEOF"))
    }

    @Test func mountsNameTheirStageAmongTheInputs() throws {
        let built = try definition("""
            FROM busybox AS builder
            RUN touch /out
            FROM busybox
            RUN --mount=type=bind,from=builder,target=/b --mount=type=cache,target=/c --network=none ls /b
            """)
        let run = steps(built)[3]
        guard case .exec(let exec) = run.op else { Issue.record("not an exec op"); return }
        #expect(exec.network == .none)
        #expect(exec.mounts.map(\.kind) == [.bind, .cache])
        #expect(exec.mounts[0].fromInput == run.stageInputs.first)
        #expect(run.stageInputs.map(\.name) == ["builder"])
        #expect(run.stageInputs[0].inputPosition == 1)
        // The bind's defaults (read-only) and the cache's (id = target, mode 0755) are applied.
        #expect(exec.mounts[0].readOnly)
        #expect(exec.mounts[1].id == "/c")
        #expect(exec.mounts[1].mode == 0o755)
        let inputs = built.graph.vertices[3].inputs
        #expect(inputs.count == 2)
        #expect(inputs[1] == built.stageResults[0])
    }

    @Test func copyFromAStageOrAnImage() throws {
        let built = try definition("""
            FROM busybox AS builder
            FROM scratch
            COPY --from=builder /bin/sh /sh
            COPY --from=alpine:3 /etc/os-release /
            """)
        let ops = steps(built)
        guard case .file(.copy(let fromStage)) = ops[2].op, case .file(.copy(let fromImage)) = ops[3].op else {
            Issue.record("not copies"); return
        }
        #expect(fromStage.from == .stage(StageInput(name: "builder", stage: 0, inputPosition: 1)))
        #expect(fromStage.paths == ["/bin/sh"])
        #expect(fromImage.from == .image("alpine:3"))
        #expect(ops[3].stageInputs.isEmpty)
    }

    @Test func addSortsItsSourcesIntoPathsURLsGitAndInlineFiles() throws {
        let built = try definition("""
            FROM scratch
            ADD local.tar https://example.com/a.txt git@github.com:org/repo.git <<EOT /dest/
            inline
            EOT
            COPY https://example.com/b.txt /b
            """)
        let ops = steps(built)
        guard case .file(.copy(let add)) = ops[1].op, case .file(.copy(let copy)) = ops[2].op else {
            Issue.record("not copies"); return
        }
        #expect(add.paths == ["local.tar"])
        #expect(add.urls == ["https://example.com/a.txt"])
        #expect(add.gitSources == ["git@github.com:org/repo.git"])
        #expect(add.inline == [InlineFile(name: "EOT", content: "inline\n", expand: true)])
        #expect(add.createdBy == "ADD local.tar https://example.com/a.txt git@github.com:org/repo.git <<EOT /dest/ # buildkit")
        // COPY takes no URLs: the context is asked for a file of that name, as docker does.
        #expect(copy.paths == ["https://example.com/b.txt"])
        #expect(copy.urls.isEmpty)
    }

    @Test func linkMakesTheCopyAMerge() throws {
        let built = try definition("FROM scratch\nCOPY --link --chown=1:2 a /a\n")
        guard case .merge(let merge) = steps(built)[1].op else { Issue.record("not a merge"); return }
        #expect(merge.copy.link)
        #expect(merge.copy.chown == "1:2")
    }

    @Test func configInstructionsBecomeConfigChanges() throws {
        let built = try definition("""
            FROM scratch
            ENV A=1 B="two words"
            CMD ["run", "it"]
            ENTRYPOINT exec me
            HEALTHCHECK --interval=5s --retries=3 CMD true
            WORKDIR sub
            ARG X=1
            """)
        let ops = steps(built).map(\.op)
        #expect(ops[1] == .config(.env([NamedValue("A", "1"), NamedValue("B", "two words")])))
        #expect(ops[2] == .config(.cmd(.exec(["run", "it"]))))
        #expect(ops[3] == .config(.entrypoint(.shell("exec me"))))
        var health = Healthcheck(test: ["CMD-SHELL", "true"])
        health.interval = 5_000_000_000
        health.retries = 3
        #expect(ops[4] == .config(.healthcheck(health)))
        #expect(ops[5] == .file(.makeWorkingDirectory("sub")))
        #expect(ops[6] == .config(.arg([DeclaredArg("X", "1")])))
        // An ARG step already carries its own value.
        #expect(steps(built)[6].args == [NamedValue("X", "1")])
    }

    @Test func argsInScopeReachLaterSteps() throws {
        let built = try definition("FROM scratch\nARG A=1\nARG B\nRUN true\n", args: ["B": "2"])
        #expect(steps(built)[3].args == [NamedValue("A", "1"), NamedValue("B", "2")])
    }

    @Test func inlineFilesExpandWithTheStageVariablesUnlessQuoted() throws {
        let expanded = try InlineFile(name: "EOF", content: "$A ${B:-b} '$A'\n", expand: true)
            .expanded(environment: ["A=1"])
        // Quotes are kept; inside single quotes nothing is expanded, as in the shell.
        #expect(expanded.content == "1 b '$A'\n")
        let literal = try InlineFile(name: "EOF", content: "$A\n", expand: false).expanded(environment: ["A=1"])
        #expect(literal.content == "$A\n")
    }
}
