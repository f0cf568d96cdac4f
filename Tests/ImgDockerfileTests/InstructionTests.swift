import Testing
import ImgDockerfile

@Suite struct InstructionTests {
    @Test func fromWithPlatformAndName() throws {
        let i = try instruction("FROM --platform=linux/arm64 golang:1.22 AS Build")
        #expect(i.command == .from(FromCommand(image: "golang:1.22", stageName: "Build", asKeywordAsWritten: "AS",
                                               platform: "linux/arm64")))
        #expect(i.keyword == .from)
        #expect(i.startLine == 1)
    }

    @Test(arguments: [
        ("FROM a b", "FROM requires either one or three arguments"),
        ("FROM a AS 1st", "invalid name for build stage: \"1st\""),
        ("FROM a AS b$c", "invalid name for build stage"),
        ("FROM --platfrom=x a", "unknown flag --platfrom for FROM (did you mean --platform?)"),
    ])
    func fromErrors(text: String, message: String) {
        let error = instructionError(text)
        #expect(error?.description.hasPrefix("Dockerfile:1: " + message) == true, "\(String(describing: error))")
    }

    @Test func runShellAndExecForms() throws {
        #expect(try instruction("RUN echo  $HOME").runCommand?.command == .shell("echo  $HOME"))
        #expect(try instruction(#"RUN ["sh", "-c", "ls"]"#).runCommand?.command == .exec(["sh", "-c", "ls"]))
    }

    @Test func runFlags() throws {
        let run = try #require(try instruction("""
            RUN --network=none --security=insecure --mount=type=cache,target=/root/.cache,sharing=locked,id=gomod \\
                --mount=type=secret,id=npmrc,required --mount=type=bind,from=build,source=/out,dst=/in,rw go build
            """).runCommand)
        #expect(run.network == NetworkMode.none)
        #expect(run.security == .insecure)
        #expect(run.command == .shell("go build"))
        #expect(run.mounts == [
            RunMount(type: .cache, target: "/root/.cache", id: "gomod", sharing: .locked, mode: 0o755),
            RunMount(type: .secret, target: "/run/secrets/npmrc", readOnly: true, id: "npmrc", mode: 0o400,
                     required: true),
            RunMount(type: .bind, target: "/in", source: "/out", from: "build", readOnly: false),
        ])
    }

    @Test func mountDefaultsAndOptions() throws {
        #expect(try RunMount(parsing: "target=/src").readOnly == true)  // bind defaults to read-only
        #expect(try RunMount(parsing: "type=bind,target=/src,readonly=false").readOnly == false)
        let tmpfs = try RunMount(parsing: "type=tmpfs,destination=/tmp,size=64m")
        #expect(tmpfs.size == Int64(64 << 20))
        #expect(tmpfs.readOnly == false)
        let ssh = try RunMount(parsing: "type=ssh")
        #expect(ssh.id == "default")
        let cache = try RunMount(parsing: "type=cache,target=/c,mode=0700,uid=1000,gid=1001,ro")
        #expect(cache.mode == 0o700)
        #expect(cache.uid == 1000)
        #expect(cache.gid == 1001)
        #expect(cache.readOnly)
        let env = try RunMount(parsing: "type=secret,id=tok,env=TOKEN")
        #expect(env.env == "TOKEN")
        #expect(env.target == nil)
        #expect(try RunMount(parsing: "type=secret,target=/etc/key").id == "key")
    }

    @Test(arguments: [
        ("RUN --mount=type=volume,target=/x true", "unsupported mount type 'volume'"),
        ("RUN --mount=type=cache,target=/x,sharing=everyone true", "unsupported sharing value 'everyone'"),
        ("RUN --mount=type=cache,target=/x,colour=red true", "unexpected key 'colour'"),
        ("RUN --mount=type=cache true", "mount type=cache requires a target"),
        ("RUN --mount=type=tmpfs,target=/t,from=x true", "'from' is not supported for mount type=tmpfs"),
        ("RUN --network=bridge true", "unsupported network mode: bridge"),
        ("RUN --security=paranoid true", "unsupported security mode: paranoid"),
        ("RUN --mnt=type=cache true", "unknown flag --mnt for RUN"),
    ])
    func runErrors(text: String, message: String) {
        let error = instructionError("FROM scratch\n" + text)
        #expect(error?.line == 2)
        #expect(error?.message.hasPrefix(message) == true, "\(String(describing: error))")
    }

    @Test func runHeredoc() throws {
        let run = try #require(try instruction("RUN <<EOF\necho hi\nEOF\n").runCommand)
        #expect(run.heredocs.map(\.name) == ["EOF"])
        #expect(run.heredocs.first?.content == "echo hi\n")
    }

    @Test func copyFlags() throws {
        let i = try instruction(
            "COPY --from=build --chown=app:app --chmod=0644 --link --parents --exclude=*.md --exclude=tmp a b /dst/")
        #expect(i.command == .copy(CopyCommand(
            sources: [.path("a"), .path("b")], destination: "/dst/", from: "build", chown: "app:app", chmod: "0644",
            link: true, parents: true, excludes: ["*.md", "tmp"])))
    }

    @Test func addFlags() throws {
        let i = try instruction(
            "ADD --checksum=sha256:abc --keep-git-dir=true --link=false https://example.com/x.tgz /x")
        #expect(i.command == .add(CopyCommand(
            sources: [.path("https://example.com/x.tgz")], destination: "/x", link: false, checksum: "sha256:abc",
            keepGitDir: true)))
    }

    @Test func copyJSONAndHeredocSources() throws {
        #expect(try instruction(#"COPY ["a b", "/c d/"]"#).copyCommand?.sources == [.path("a b")])
        let copy = try #require(try instruction("COPY <<one.txt <<two.txt /dst/\n1\none.txt\n2\ntwo.txt\n").copyCommand)
        #expect(copy.destination == "/dst/")
        guard copy.sources.count == 2, case .heredoc(let first) = copy.sources[0], case .heredoc(let second) = copy.sources[1]
        else {
            Issue.record("expected two heredoc sources, got \(copy.sources)")
            return
        }
        #expect(first.name == "one.txt")
        #expect(first.content == "1\n")
        #expect(second.content == "2\n")
    }

    @Test(arguments: [
        ("COPY a", "COPY requires at least two arguments"),
        ("COPY --checksum=x a b", "unknown flag --checksum for COPY"),
        ("ADD --from=x a b", "unknown flag --from for ADD"),
        ("ADD --parents a b", "unknown flag --parents for ADD"),
        ("COPY --link=maybe a b", "expecting a boolean value for flag --link, not: maybe"),
        ("COPY --from=a --from=b x y", "duplicate flag --from for COPY"),
        ("COPY --chown a b", "missing a value on flag --chown for COPY"),
    ])
    func copyErrors(text: String, message: String) {
        let error = instructionError("FROM scratch\n\n" + text)
        #expect(error?.line == 3)
        #expect(error?.message.hasPrefix(message) == true, "\(String(describing: error))")
    }

    @Test func envLabelArg() throws {
        #expect(try instruction(#"ENV A=1 B="two words""#).command
            == .env(KeyValueCommand(pairs: [KeyValue("A", "1"), KeyValue("B", "\"two words\"")])))
        #expect(try instruction("ENV A some value").command
            == .env(KeyValueCommand(pairs: [KeyValue("A", "some value")], isLegacyFormat: true)))
        #expect(try instruction(#"LABEL org.opencontainers.image.title="img" v=1"#).command
            == .label(KeyValueCommand(pairs: [KeyValue("org.opencontainers.image.title", "\"img\""), KeyValue("v", "1")])))
        #expect(try instruction("ARG A B=2 C=").command == .arg([
            ArgDeclaration(name: "A"), ArgDeclaration(name: "B", defaultValue: "2"),
            ArgDeclaration(name: "C", defaultValue: ""),
        ]))
    }

    @Test func simpleInstructions() throws {
        #expect(try instruction("EXPOSE 80/tcp 443").command == .expose(["80/tcp", "443"]))
        #expect(try instruction("VOLUME /a /b").command == .volume(["/a", "/b"]))
        #expect(try instruction(#"VOLUME ["/data"]"#).command == .volume(["/data"]))
        #expect(try instruction("USER app:app").command == .user("app:app"))
        #expect(try instruction("WORKDIR /srv/app").command == .workdir("/srv/app"))
        #expect(try instruction("STOPSIGNAL SIGTERM").command == .stopSignal("SIGTERM"))
        #expect(try instruction(#"SHELL ["/bin/bash", "-c"]"#).command == .shell(["/bin/bash", "-c"]))
        #expect(try instruction("MAINTAINER Jane <j@x>").command == .maintainer("Jane <j@x>"))
        #expect(try instruction("CMD echo hi").command == .cmd(.shell("echo hi")))
        #expect(try instruction(#"ENTRYPOINT ["/app"]"#).command == .entrypoint(.exec(["/app"])))
        #expect(try instruction("user App").keywordAsWritten == "user")
    }

    @Test(arguments: [
        ("SHELL /bin/sh -c", "SHELL requires the arguments to be in JSON form"),
        ("CMD --now echo", "unknown flag --now for CMD"),
        ("ENV --x=1 A=1", "unknown flag --x for ENV"),
        ("WORKDIR", "WORKDIR requires exactly one argument"),
        ("STOPSIGNAL", "STOPSIGNAL requires exactly one argument"),
    ])
    func simpleErrors(text: String, message: String) {
        let error = instructionError("FROM scratch\n" + text)
        #expect(error?.line == 2)
        #expect(error?.message.hasPrefix(message) == true, "\(String(describing: error))")
    }

    @Test func healthcheck() throws {
        #expect(try instruction("HEALTHCHECK NONE").command == .healthcheck(.none))
        let check = try instruction(
            "HEALTHCHECK --interval=30s --timeout=1m30s --start-period=500ms --start-interval=2s --retries=3 CMD curl -f http://localhost/")
        let expected = HealthcheckOptions(
            command: .shell("curl -f http://localhost/"), interval: .seconds(30), timeout: .seconds(90),
            startPeriod: .milliseconds(500), startInterval: .seconds(2), retries: 3)
        #expect(check.command == .healthcheck(.check(expected)))
        #expect(expected.test == ["CMD-SHELL", "curl -f http://localhost/"])
        let exec = try instruction(#"HEALTHCHECK CMD ["/bin/check", "-q"]"#)
        guard case .healthcheck(.check(let options)) = exec.command else {
            Issue.record("not a check: \(exec.command)")
            return
        }
        #expect(options.test == ["CMD", "/bin/check", "-q"])
    }

    @Test(arguments: [
        ("HEALTHCHECK --interval=5 CMD true", "invalid duration '5' for HEALTHCHECK --interval"),
        ("HEALTHCHECK --retries=-1 CMD true", "HEALTHCHECK --retries cannot be negative"),
        ("HEALTHCHECK --timeout=1ns CMD true", "HEALTHCHECK --timeout cannot be less than 1ms"),
        ("HEALTHCHECK NONE extra", "HEALTHCHECK NONE takes no arguments"),
        ("HEALTHCHECK PING x", "unknown type \"PING\" in HEALTHCHECK (try CMD)"),
        ("HEALTHCHECK --every=1s CMD true", "unknown flag --every for HEALTHCHECK"),
    ])
    func healthcheckErrors(text: String, message: String) {
        let error = instructionError("FROM scratch\n" + text)
        #expect(error?.line == 2)
        #expect(error?.message.hasPrefix(message) == true, "\(String(describing: error))")
    }

    @Test func onbuild() throws {
        let i = try instruction("ONBUILD RUN make install")
        guard case .onbuild(let onbuild) = i.command else {
            Issue.record("not ONBUILD: \(i.command)")
            return
        }
        #expect(onbuild.trigger.keyword == "run")
        #expect(onbuild.expression == "RUN make install")
    }

    @Test(arguments: [
        ("ONBUILD FROM alpine", "FROM isn't allowed as an ONBUILD trigger"),
        ("ONBUILD MAINTAINER me", "MAINTAINER isn't allowed as an ONBUILD trigger"),
        ("ONBUILD ONBUILD RUN x", "chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ])
    func onbuildForbiddenTriggers(text: String, message: String) {
        let error = instructionError("FROM scratch\n" + text)
        #expect(error?.description == "Dockerfile:2: " + message)
    }

    @Test(arguments: [
        ("FORM alpine", "unknown instruction: FORM (did you mean FROM?)"),
        ("RUNN x", "unknown instruction: RUNN (did you mean RUN?)"),
        ("cpoy a b", "unknown instruction: CPOY (did you mean COPY?)"),
        ("XYZZY x", "unknown instruction: XYZZY"),
    ])
    func unknownInstruction(text: String, expected: String) {
        let error = instructionError("FROM scratch\n\n\n\n\n\n" + text)
        #expect(error?.description == "Dockerfile:7: " + expected)
    }

    /// Nodes built by hand type the same way as parsed ones (what callers without the parser rely on).
    @Test func handBuiltNode() throws {
        let node = Node(keyword: "copy", keywordAsWritten: "Copy", flags: ["--from=0"], arguments: ["a", "/b"],
                        startLine: 4, endLine: 5)
        let i = try Instruction(node: node, file: "Containerfile")
        #expect(i.keywordAsWritten == "Copy")
        #expect(i.startLine == 4)
        #expect(i.endLine == 5)
        #expect(i.copyCommand?.from == "0")
        let bad = Node(keyword: "copy", flags: ["--fromm=0"], arguments: ["a", "/b"], startLine: 9)
        #expect(throws: DockerfileError("instruction", "unknown flag --fromm for COPY (did you mean --from?)",
                                        file: "Containerfile", line: 9)) {
            try Instruction(node: bad, file: "Containerfile")
        }
    }

    @Test(arguments: [
        ("linux/arm64/v8", "linux", "arm64", nil, "linux/arm64"),
        ("linux/amd64", "linux", "amd64", nil, "linux/amd64"),
        ("linux/arm/v6", "linux", "arm", "v6", "linux/arm/v6"),
        ("linux/arm", "linux", "arm", "v7", "linux/arm/v7"),
        ("Linux/x86_64", "linux", "amd64", nil, "linux/amd64"),
        ("linux/aarch64", "linux", "arm64", nil, "linux/arm64"),
    ] as [(String, String, String, String?, String)])
    func platformParsing(text: String, os: String, arch: String, variant: String?, formatted: String) throws {
        let platform = try #require(BuildPlatform(parsing: text))
        #expect(platform.os == os)
        #expect(platform.architecture == arch)
        #expect(platform.variant == variant)
        #expect(platform.description == formatted)
    }

    @Test func platformRejects() {
        #expect(BuildPlatform(parsing: "linux") == nil)
        #expect(BuildPlatform(parsing: "linux//") == nil)
        #expect(BuildPlatform(parsing: "a/b/c/d") == nil)
    }
}
