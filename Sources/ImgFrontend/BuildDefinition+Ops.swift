import Foundation
import ImgDockerfile
import ImgOCI

/// Instructions to ops: the Dockerfile's meaning (heredoc scripts, ADD's URL and git sources, mount
/// defaults, CMD forms) is settled here, so the worker only runs ops.
extension BuildDefinition {
    static func source(_ stage: Stage) -> ImageSource {
        let platform = stage.platform.map { Platform(os: $0.os, architecture: $0.architecture, variant: $0.variant) }
        switch stage.base {
        case .scratch: return .scratch(platform: platform)
        case .image(let reference): return .image(reference, platform: platform)
        case .stage: return .stage
        }
    }

    static func op(_ command: ImgDockerfile.Command, stageInputs: [StageInput]) -> BuildOp {
        switch command {
        case .run(let run): .exec(exec(run, stageInputs: stageInputs))
        case .copy(let copy): copyOp(copy, keyword: "COPY", stageInputs: stageInputs)
        case .add(let copy): copyOp(copy, keyword: "ADD", stageInputs: stageInputs)
        case .workdir(let path): .file(.makeWorkingDirectory(path))
        case .env(let env): .config(.env(env.pairs.map { NamedValue($0.key, $0.value) }))
        case .label(let label): .config(.label(label.pairs.map { NamedValue($0.key, $0.value) }))
        case .expose(let ports): .config(.expose(ports))
        case .volume(let paths): .config(.volume(paths))
        case .user(let user): .config(.user(user))
        case .cmd(let line): .config(.cmd(form(line)))
        case .entrypoint(let line): .config(.entrypoint(form(line)))
        case .healthcheck(.none): .config(.healthcheck(nil))
        case .healthcheck(.check(let options)): .config(.healthcheck(healthcheck(options)))
        case .stopSignal(let signal): .config(.stopSignal(signal))
        case .onbuild(let trigger): .config(.onbuild(trigger.expression))
        case .shell(let shell): .config(.shell(shell))
        case .maintainer(let author): .config(.maintainer(author))
        case .arg(let declarations): .config(.arg(declarations.map { DeclaredArg($0.name, $0.defaultValue) }))
        case .from: preconditionFailure("FROM starts a stage; it is not an instruction of one")
        }
    }

    static func form(_ line: ImgDockerfile.CommandLine) -> CommandForm {
        switch line {
        case .exec(let words): .exec(words)
        case .shell(let text): .shell(text)
        }
    }

    /// The exec op of a RUN: a RUN that is only a heredoc runs the heredoc's body as the script; other
    /// heredocs are appended to the script for the shell to read.
    static func exec(_ run: RunCommand, stageInputs: [StageInput]) -> ExecOp {
        var command = form(run.command)
        if case .shell(let line) = run.command, !run.heredocs.isEmpty {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if run.heredocs.count == 1, trimmed.hasPrefix("<<"),
               trimmed.range(of: #"^<<-?["']?[A-Za-z0-9_]+["']?$"#, options: .regularExpression) != nil {
                command = .shell(run.heredocs[0].content)
            } else {
                var script = line
                for heredoc in run.heredocs {
                    script += "\n" + heredoc.content
                    if !heredoc.content.hasSuffix("\n") { script += "\n" }
                    script += heredoc.name
                }
                command = .shell(script)
            }
        }
        let mounts = run.mounts.map { mount in
            ExecOp.Mount(
                kind: ExecOp.Mount.Kind(rawValue: mount.type.rawValue)!, target: mount.target, source: mount.source,
                from: mount.from, fromInput: mount.from.flatMap { from in stageInputs.first { $0.name == from } },
                readOnly: mount.readOnly, id: mount.id, sharing: ExecOp.Mount.Sharing(rawValue: mount.sharing.rawValue)!,
                mode: mount.mode, uid: mount.uid, gid: mount.gid, required: mount.required, size: mount.size,
                env: mount.env)
        }
        let network: ExecOp.Network = switch run.network {
        case NetworkMode.none?: ExecOp.Network.none
        case .host?: .host
        case .default?, nil: .default
        }
        return ExecOp(command: command, mounts: mounts, network: network,
                      security: run.security == .insecure ? .insecure : .sandbox)
    }

    /// COPY and ADD: ADD's git addresses and http(s) URLs become sources of their own; `--link` makes the
    /// copy a merge.
    static func copyOp(_ copy: CopyCommand, keyword: String, stageInputs: [StageInput]) -> BuildOp {
        var paths: [String] = []
        var urls: [String] = []
        var git: [String] = []
        var inline: [InlineFile] = []
        var written: [String] = []
        for source in copy.sources {
            switch source {
            case .path(let path):
                written.append(path)
                if keyword == "ADD", Self.isGitAddress(path) {
                    git.append(path)
                } else if keyword == "ADD", path.hasPrefix("http://") || path.hasPrefix("https://") {
                    urls.append(path)
                } else {
                    paths.append(path)
                }
            case .heredoc(let heredoc):
                written.append("<<" + heredoc.name)
                inline.append(InlineFile(name: heredoc.name, content: heredoc.content, expand: heredoc.expand))
            }
        }
        let from = copy.from.map { name in
            stageInputs.first { $0.name == name }.map(CopyOp.CopyFrom.stage) ?? .image(name)
        }
        let op = CopyOp(keyword: keyword, paths: paths, from: from, urls: urls, gitSources: git, inline: inline,
                        written: written, destination: copy.destination, chown: copy.chown, chmod: copy.chmod,
                        excludes: copy.excludes, parents: copy.parents, link: copy.link, checksum: copy.checksum,
                        keepGitDir: copy.keepGitDir ?? false)
        return copy.link ? .merge(MergeOp(copy: op)) : .file(.copy(op))
    }

    /// BuildKit's test for a git source: an scp-like `git@host:...`, a `git://` or `ssh://` URL, or an
    /// http(s) URL whose path ends in `.git` (before a `#ref:subdir` fragment).
    static func isGitAddress(_ path: String) -> Bool {
        if path.hasPrefix("git@") || path.hasPrefix("git://") || path.hasPrefix("ssh://") { return true }
        let remote = path.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
        return remote.hasSuffix(".git") && (remote.hasPrefix("https://") || remote.hasPrefix("http://"))
    }

    static func healthcheck(_ options: HealthcheckOptions) -> ImgOCI.Healthcheck {
        func nanoseconds(_ duration: Duration) -> Int64 {
            duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
        }
        var health = ImgOCI.Healthcheck(test: options.test)
        health.interval = options.interval.map(nanoseconds)
        health.timeout = options.timeout.map(nanoseconds)
        health.startPeriod = options.startPeriod.map(nanoseconds)
        health.startInterval = options.startInterval.map(nanoseconds)
        health.retries = options.retries
        return health
    }
}
