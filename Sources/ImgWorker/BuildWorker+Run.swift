import Foundation
import Glibc
import ImgDockerfile
import ImgFrontend
import ImgGraph
import ImgOCI
import ImgRuntime
import ImgSystem
import Synchronization

extension BuildWorker {
    /// RUN: the command in a container over the parent's filesystem; what it changed becomes a layer.
    func run(_ vertex: Int, _ step: BuildStep, _ run: RunCommand, parent: BuildState,
             inputs: [BuildState]) async throws -> BuildState {
        let container = parent.container
        let shell = container.shell ?? ["/bin/sh", "-c"]
        let command = Self.command(run, shell: shell)
        let environment = Self.environment(image: container.env ?? [], args: step.args)
        let workdir = container.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        let network: RunStep.Network = run.network == NetworkMode.none ? .none : .host
        // Refused before the cache is asked, so a cached result never stands in for a missing grant.
        let security: RunStep.Security = run.security == .insecure ? .insecure : .sandbox
        if security == .insecure, !options.entitlements.contains(.securityInsecure) {
            throw error(step, "RUN --security=insecure is not allowed: pass --allow \(Entitlement.securityInsecure.rawValue) to img build")
        }

        var key = CacheKeyBuilder(kind: "run")
        key.add("parent", parent.cacheKey)
        key.add("platform", options.platform.description)
        key.add("command", command.arguments)
        key.add("env", environment)
        key.add("workdir", workdir)
        key.add("user", container.user ?? "")
        key.add("network", network.rawValue)
        // Only when insecure, so the keys of sandboxed steps stay those of earlier builds.
        if security == .insecure { key.add("security", security.rawValue) }
        for mount in run.mounts {
            // Secrets are named by id only: their values never reach a key.
            key.add("mount", [mount.type.rawValue, mount.target ?? "", mount.source ?? "", mount.from ?? "",
                              mount.id ?? "", mount.readOnly ? "ro" : "rw", mount.sharing.rawValue,
                              mount.mode.map { String($0, radix: 8) } ?? "", mount.uid.map(String.init) ?? "",
                              mount.gid.map(String.init) ?? "", mount.env ?? ""])
        }
        for input in step.stageInputs { key.add("stage-input", inputs[input.inputPosition].cacheKey) }
        let createdBy = Self.createdBy(run, command: command)

        return try await throughCache(vertex, step, key: key, parent: parent) { result in
            let layer = try await layer(on: parent) { workspace in
                var mounts: [RunStep.Mount] = []
                var cleanups: [() -> Void] = []
                defer { for cleanup in cleanups.reversed() { cleanup() } }
                var stepEnvironment = environment
                var sshCount = 0
                for mount in run.mounts {
                    try await prepareMount(mount, step: step, inputs: inputs, into: &mounts, environment: &stepEnvironment,
                                           cleanups: &cleanups, sshCount: &sshCount)
                }
                let runStep = RunStep(
                    rootfs: workspace.rootfs, command: command, environment: stepEnvironment,
                    workingDirectory: workdir, user: container.user, network: network, security: security,
                    mounts: mounts)
                // WORKDIR may name a directory no step created yet (docker creates it for RUN).
                Self.makeDirectory(workdir, in: workspace.rootfs)
                // The end of the output, to recognise a program the kernel could not execute.
                let tail = Mutex<[UInt8]>([])
                do {
                    try await executor.run(runStep) { _, bytes in
                        progress.output(vertex, bytes)
                        tail.withLock { kept in
                            kept += bytes
                            if kept.count > 512 { kept.removeFirst(kept.count - 512) }
                        }
                    }
                } catch let failure as RuntimeError {
                    let hint = Self.emulationHint(output: tail.withLock { $0 } + Array("\(failure)".utf8),
                                                  platform: parent.config.platform)
                    if failure.code == .nonZeroExit, let code = failure.exitCode {
                        throw error(step, "RUN exited with code \(code): \(command)" + failure.hint + hint)
                    }
                    throw error(step, "\(failure)" + hint)
                }
                return true
            }
            if let layer { result.append(layer, createdBy: createdBy, created: now) }
        }
    }

    /// The argument vector: exec form as written; shell form through SHELL; a RUN that is only a heredoc
    /// runs the heredoc's body as the script, other heredocs stay in the script for the shell to read.
    static func command(_ run: RunCommand, shell: [String]) -> RunStep.Command {
        switch run.command {
        case .exec(let arguments):
            return .exec(arguments)
        case .shell(let line):
            guard !run.heredocs.isEmpty else { return .shell(line, shell: shell) }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if run.heredocs.count == 1, trimmed.hasPrefix("<<"),
               trimmed.range(of: #"^<<-?["']?[A-Za-z0-9_]+["']?$"#, options: .regularExpression) != nil {
                return .shell(run.heredocs[0].content, shell: shell)
            }
            var script = line
            for heredoc in run.heredocs {
                script += "\n" + heredoc.content
                if !heredoc.content.hasSuffix("\n") { script += "\n" }
                script += heredoc.name
            }
            return .shell(script, shell: shell)
        }
    }

    /// The image's environment plus the ARGs in scope; ENV wins over an ARG of the same name.
    static func environment(image: [String], args: [KeyValue]) -> [String] {
        let imageNames = Set(image.map { String($0.split(separator: "=", maxSplits: 1).first ?? "") })
        return image + args.filter { !imageNames.contains($0.key) }.map { "\($0.key)=\($0.value)" }
    }

    /// docker's history text: `RUN /bin/sh -c make # buildkit`.
    static func createdBy(_ run: RunCommand, command: RunStep.Command) -> String {
        switch run.command {
        case .exec(let arguments): "RUN " + arguments.joined(separator: " ") + " # buildkit"
        case .shell: "RUN " + command.arguments.joined(separator: " ") + " # buildkit"
        }
    }

    /// Turns one `--mount` into a runtime mount (and what must be undone afterwards).
    func prepareMount(_ mount: RunMount, step: BuildStep, inputs: [BuildState], into mounts: inout [RunStep.Mount],
                      environment: inout [String], cleanups: inout [() -> Void], sshCount: inout Int) async throws {
        let target = mount.target.map { $0.hasPrefix("/") ? $0 : "/" + $0 }
        switch mount.type {
        case .tmpfs:
            var tmpfsOptions = ["mode=1777"]
            if let size = mount.size { tmpfsOptions.append("size=\(size)") }
            mounts.append(.init(destination: target!, kind: .tmpfs(options: tmpfsOptions)))
        case .cache:
            let id = mount.id ?? target!
            let directory = state.layout.cacheMountsDirectory + "/" + Digest.sha256(of: Array(id.utf8)).hex
            if !FileManager.default.fileExists(atPath: directory) {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                chmod(directory, mode_t(mount.mode ?? 0o755))
                chown(directory, uid_t(mount.uid ?? 0), gid_t(mount.gid ?? 0))
            }
            if mount.sharing == .locked {
                let lock = try FileLock(path: directory + ".lock")
                cleanups.append { lock.unlock() }
            }
            mounts.append(.init(destination: target!, kind: .bind(source: directory, readOnly: mount.readOnly)))
        case .bind:
            var root = context.root
            if let from = mount.from {
                guard let input = step.stageInputs.first(where: { $0.name == from }) else {
                    throw error(step, "RUN --mount from=\(from): only earlier stages can be mounted for now")
                }
                // Keep the stage's filesystem mounted while the step runs.
                let base = try await snapshots.prepare(try await layerBlobs(of: inputs[input.inputPosition]))
                let workspace = try await snapshots.workspace(on: base)
                let store = snapshots
                cleanups.append { Task { await store.release(workspace) } }
                root = workspace.rootfs
            }
            let source = try Self.inside(root, mount.source ?? "/", step: step, worker: self)
            mounts.append(.init(destination: target!, kind: .bind(source: source, readOnly: true)))
            if !mount.readOnly {
                progress.note(0, "RUN --mount=type=bind,rw: writes are not kept (mounted read-only by img)")
            }
        case .secret:
            let id = mount.id!
            guard let file = options.secrets[id] else {
                if mount.required { throw error(step, "secret \(id) is required but was not provided (--secret id=\(id),src=FILE)") }
                return
            }
            if let target {
                let copy = try secretCopy(of: file, id: id, mode: mount.mode ?? 0o400, uid: mount.uid ?? 0,
                                          gid: mount.gid ?? 0, step: step)
                cleanups.append(copy.remove)
                mounts.append(.init(destination: target, kind: .bind(source: copy.path, readOnly: true)))
            }
            if let name = mount.env {
                let value = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
                environment.append("\(name)=\(value)")
            }
        case .ssh:
            // BuildKit's defaults: /run/buildkit/ssh_agent.N, and SSH_AUTH_SOCK names the first one.
            let id = mount.id ?? "default"
            let index = sshCount
            sshCount += 1
            guard let agent = options.sshAgents[id] else {
                if mount.required { throw error(step, "ssh agent \(id) is required but was not provided (--ssh \(id))") }
                return
            }
            let relay: UnixSocketRelay
            do {
                relay = try UnixSocketRelay(target: agent, uid: UInt32(mount.uid ?? 0), gid: UInt32(mount.gid ?? 0),
                                            mode: mount.mode ?? 0o600)
            } catch {
                throw self.error(step, "RUN --mount=type=ssh,id=\(id): \(error)")
            }
            cleanups.append { relay.stop() }
            let destination = target ?? "/run/buildkit/ssh_agent.\(index)"
            mounts.append(.init(destination: destination, kind: .bind(source: relay.path, readOnly: true)))
            if !environment.contains(where: { $0.hasPrefix("SSH_AUTH_SOCK=") }) {
                environment.append("SSH_AUTH_SOCK=\(destination)")
            }
        }
    }

    /// Creates `path` (and its parents) inside `rootfs`, resolving every component inside it. Returns
    /// whether anything had to be created.
    @discardableResult
    static func makeDirectory(_ path: String, in rootfs: String) -> Bool {
        guard let components = RootedDirectory.components(of: path), !components.isEmpty,
              let root = try? RootedDirectory(path: rootfs) else { return false }
        if (try? root.openDirectory(components)) != nil { return false }
        return (try? root.openDirectory(components, createMode: 0o755)) != nil
    }

    /// `path` inside `root` with symlinks resolved, refusing anything that leaves it.
    static func inside(_ root: String, _ path: String, step: BuildStep, worker: BuildWorker) throws -> String {
        let joined = URL(filePath: root).appending(path: path).standardizedFileURL.resolvingSymlinksInPath().path
        let base = URL(filePath: root).standardizedFileURL.resolvingSymlinksInPath().path
        guard joined == base || joined.hasPrefix(base + "/") else {
            throw worker.error(step, "mount source \(path) is outside the build context")
        }
        return joined
    }

    /// For a RUN of another architecture that the kernel could not execute (runc's init reports
    /// `exec format error` on the step's stderr): what is missing.
    static func emulationHint(output: [UInt8], platform: Platform) -> String {
        let host = (try? Platform(parsing: BuildPlatform.host.description)) ?? platform
        guard !host.matches(platform), String(decoding: output, as: UTF8.self).contains("exec format error") else { return "" }
        return " (RUN for \(platform) on this \(host) host needs an emulator registered with binfmt_misc, e.g."
            + " Debian's qemu-user-static)"
    }
}
