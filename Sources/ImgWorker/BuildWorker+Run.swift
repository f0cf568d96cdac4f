import Foundation
import Glibc
import ImgFrontend
import ImgGraph
import ImgOCI
import ImgRuntime
import ImgSystem
import Synchronization

extension BuildWorker {
    /// The exec op: the command in a container over the parent's filesystem; what it changed becomes a layer.
    func run(_ vertex: Int, _ step: BuildStep, _ exec: ExecOp, parent: BuildState,
             inputs: [BuildState]) async throws -> BuildState {
        let container = parent.container
        let command: RunStep.Command = switch exec.command {
        case .shell(let script): .shell(script, shell: container.shell ?? ["/bin/sh", "-c"])
        case .exec(let arguments): .exec(arguments)
        }
        let environment = Self.environment(image: container.env ?? [], args: step.args)
        let workdir = container.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        // A RUN's own --network wins; `default` (or none given) is the build's --network.
        var exec = exec
        if exec.network == .default { exec.network = options.network == .none ? .none : .host }
        let network: RunStep.Network = exec.network == .none ? .none : .host
        // Refused before the cache is asked, so a cached result never stands in for a missing grant.
        let security: RunStep.Security = exec.security == .insecure ? .insecure : .sandbox
        if security == .insecure, !options.entitlements.contains(.securityInsecure) {
            throw error(step, "RUN --security=insecure is not allowed: pass --allow \(Entitlement.securityInsecure.rawValue) to img build")
        }
        let key = exec.cacheKey(.init(
            parent: parent.cacheKey, platform: options.platform, arguments: command.arguments, environment: environment,
            workingDirectory: workdir, user: container.user ?? "",
            stageInputs: step.stageInputs.map { inputs[$0.inputPosition].cacheKey },
            extraHostNames: options.extraHosts.map(\.name), shmSize: options.shmSize,
            ulimits: options.ulimits.map { "\($0.name)=\($0.soft):\($0.hard)" }))
        let createdBy = exec.createdBy(shell: container.shell)

        return try await throughCache(vertex, step, key: key, parent: parent) { result in
            let layer = try await layer(on: parent) { workspace in
                var mounts: [RunStep.Mount] = []
                var cleanups: [() -> Void] = []
                defer { for cleanup in cleanups.reversed() { cleanup() } }
                var stepEnvironment = environment
                var sshCount = 0
                for mount in exec.mounts {
                    try await prepareMount(mount, step: step, inputs: inputs, into: &mounts, environment: &stepEnvironment,
                                           cleanups: &cleanups, sshCount: &sshCount)
                }
                var runStep = RunStep(
                    rootfs: workspace.rootfs, command: command, environment: stepEnvironment,
                    workingDirectory: workdir, user: container.user, network: network, security: security,
                    mounts: mounts)
                runStep.extraHosts = options.extraHosts
                runStep.shmSize = options.shmSize
                runStep.ulimits = options.ulimits
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

    /// The image's environment plus the ARGs in scope; ENV wins over an ARG of the same name.
    static func environment(image: [String], args: [NamedValue]) -> [String] {
        let imageNames = Set(image.map { String($0.split(separator: "=", maxSplits: 1).first ?? "") })
        return image + args.filter { !imageNames.contains($0.name) }.map { "\($0.name)=\($0.value)" }
    }

    /// Turns one `--mount` into a runtime mount (and what must be undone afterwards).
    func prepareMount(_ mount: ExecOp.Mount, step: BuildStep, inputs: [BuildState], into mounts: inout [RunStep.Mount],
                      environment: inout [String], cleanups: inout [() -> Void], sshCount: inout Int) async throws {
        let target = mount.target.map { $0.hasPrefix("/") ? $0 : "/" + $0 }
        switch mount.kind {
        case .tmpfs:
            var tmpfsOptions = ["mode=1777"]
            if let size = mount.size { tmpfsOptions.append("size=\(size)") }
            mounts.append(.init(destination: target!, kind: .tmpfs(options: tmpfsOptions)))
        case .cache:
            let id = Self.cacheMountID(mount)!
            let directory = state.layout.cacheMountDirectory(id: id)
            // An empty mount starts from what a `--cache-from` exported for it (`cache-mounts=true`).
            var seeded = false
            if Self.isMissingOrEmpty(directory) {
                for source in cacheSources where await source.seedCacheMount(id, into: directory, state: state) {
                    seeded = true
                    break
                }
            }
            let created = !FileManager.default.fileExists(atPath: directory)
            if created {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            // A new mount, or one unpacked from a cache (whose tar holds its contents, not the directory
            // itself), gets the mount's mode and owner.
            if created || seeded {
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
                guard let input = mount.fromInput else {
                    throw error(step, "RUN --mount from=\(from): only earlier stages can be mounted for now")
                }
                // Keep the stage's filesystem mounted while the step runs.
                let base = try await snapshots.prepare(try await layerBlobs(of: inputs[input.inputPosition]))
                let workspace = try await snapshots.workspace(on: base)
                let store = snapshots
                cleanups.append { Task { await store.release(workspace) } }
                root = workspace.rootfs
            }
            var source = try Self.inside(root, mount.source ?? "/", step: step, worker: self)
            // rw: writable, writes thrown away after the step (as BuildKit): a stage's workspace is this
            // step's own and released after it; the context is never written, so it gets a copy.
            if !mount.readOnly && mount.from == nil {
                let copy = try writableBindCopy(of: source, step: step)
                cleanups.append(copy.remove)
                source = copy.path
            }
            mounts.append(.init(destination: target!, kind: .bind(source: source, readOnly: mount.readOnly)))
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
        let host = Platform.host
        guard !host.matches(platform), String(decoding: output, as: UTF8.self).contains("exec format error") else { return "" }
        return " (RUN for \(platform) on this \(host) host needs an emulator registered with binfmt_misc:"
            + " install Debian's qemu-user-static and binfmt-support; as root, mount binfmt_misc if"
            + " /proc/sys/fs/binfmt_misc is empty (mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc)"
            + " and register it (update-binfmts --enable \(Platform.qemuHandler(architecture: platform.architecture))))"
    }
}
