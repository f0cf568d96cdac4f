import Foundation
import Glibc
package import ImgSystem
import Synchronization

/// Runs RUN steps with runc (`runc run --bundle DIR ID`), one container per step, in the foreground.
///
/// Each step gets a bundle directory (its `config.json` and runc's log) under
/// `<stateDirectory>/runtime/bundles`, and runc keeps its container state under
/// `<stateDirectory>/runtime/runc`. Both are gone when `run` returns, whether the step succeeded, failed or
/// was cancelled; those of a killed img (bundles and containers named by its owner token, `ProcessOwners`)
/// are deleted by the next executor on the state directory (`removeAbandoned`). When the process is not real root it must already be inside img's user namespace
/// (`UserNamespace.enterIfNeeded()`); the spec then gets the rootless adjustments.
package struct RuncExecutor: Sendable {
    /// The runc binary.
    package let runtimePath: String
    /// runc's `--root`: its container state.
    package let runcRoot: String
    /// Where bundles are made.
    package let bundleDirectory: String
    /// Whether the spec gets the rootless adjustments (set from `UserNamespace.state`).
    package let rootless: Bool
    /// What the place img runs in allows steps (from what the shim found at start-up).
    package let isolation: StepIsolation

    /// `runtimePath` is a path or a name looked up on `searchPath` (default: `runc` on `$PATH`).
    package init(stateDirectory: String, runtimePath: String? = nil, searchPath: String? = nil) throws(RuntimeError) {
        let requested = runtimePath ?? "runc"
        guard let found = ExecutableLookup.find(requested, searchPath: searchPath) else {
            if runtimePath == nil {
                throw RuntimeError(.runtimeNotFound, "runc not found: install Debian package runc")
            }
            throw RuntimeError(.runtimeNotFound, "OCI runtime \(requested) not found or not executable")
        }
        self.runtimePath = found
        let base = stateDirectory.hasSuffix("/") ? String(stateDirectory.dropLast()) : stateDirectory
        runcRoot = base + "/runtime/runc"
        bundleDirectory = base + "/runtime/bundles"
        isolation = StepIsolation.current
        switch UserNamespace.state {
        case .privileged: rootless = false
        case .inside: rootless = true
        case .outside:
            throw RuntimeError(.system, "running a RUN step needs root or img's user namespace: call UserNamespace.enterIfNeeded() first")
        }
        for directory in [base, base + "/runtime", runcRoot, bundleDirectory] {
            if mkdir(directory, 0o700) != 0 && errno != EEXIST {
                throw RuntimeError(.system, "\(SystemError.errno("create \(directory)"))")
            }
        }
        // Before any bundle carries the token: no other process may take ours for a killed one's.
        do { try ProcessOwners.register(in: base + "/owners") } catch {
            throw RuntimeError(.system, "cannot record this process in \(base)/owners: \(error)")
        }
        _ = Self.removeAbandoned(runtimePath: found, stateDirectory: base)
    }

    /// Deletes the containers (`runc delete --force`: state, and as real root the cgroups runc made) and
    /// bundles of img processes that are gone; their processes died with that img's PID namespace. Returns
    /// how many entries it removed and the bytes they held. Cheap when there are none: two listings.
    package static func removeAbandoned(runtimePath: String, stateDirectory base: String) -> (entries: Int, bytes: Int64) {
        let runcRoot = base + "/runtime/runc", bundles = base + "/runtime/bundles"
        let containers = (try? DirectoryEntries.names(in: AT_FDCWD, runcRoot)) ?? []
        let steps = (try? DirectoryEntries.names(in: AT_FDCWD, bundles)) ?? []
        guard !containers.isEmpty || !steps.isEmpty else { return (0, 0) }
        let dead = ProcessOwners.dead(in: base + "/owners")
        defer { for owner in dead { owner.release(forget: false) } }
        let tokens = Set(dead.map(\.token))
        guard !tokens.isEmpty else { return (0, 0) }
        var entries = 0
        var bytes: Int64 = 0
        for id in containers where ProcessOwners.isLeftover(id, of: tokens) {
            let size = DirectoryEntries.allocatedBytes(runcRoot + "/" + id)
            _ = try? ChildProcess.collect(executable: runtimePath, arguments: ["--root", runcRoot, "delete", "--force", id])
            if access(runcRoot + "/" + id, F_OK) != 0 {
                entries += 1
                bytes += size
            }
        }
        let parent = open(bundles, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parent >= 0 else { return (entries, bytes) }
        defer { close(parent) }
        for step in steps where ProcessOwners.isLeftover(step, of: tokens) {
            let size = DirectoryEntries.allocatedBytes(bundles + "/" + step)
            if (try? DirectoryEntries.removeTree(in: parent, step)) != nil {
                entries += 1
                bytes += size
            }
        }
        return (entries, bytes)
    }

    /// Runs `step`, handing its stdout and stderr to `output` chunk by chunk as they come (on a thread of
    /// the executor's; chunks of one stream keep their order). Returns when the step exited with 0.
    ///
    /// Throws `nonZeroExit` (`RUN exited with code 2: <command>`), `killed`, `cancelled` when the task is
    /// cancelled (the container is killed first), `unknownUser`, `runtimeFailed` with runc's own error.
    package func run(
        _ step: RunStep, output: @escaping @Sendable (StdioStream, [UInt8]) -> Void
    ) async throws(RuntimeError) {
        if Task.isCancelled { throw RuntimeError(.cancelled, "RUN cancelled: \(step.command)") }
        var user: ContainerUser
        do { user = try ContainerUser.resolve(step.user, rootfs: step.rootfs) } catch {
            throw RuntimeError(error.code == .unknownUser ? .unknownUser : .system, error.message)
        }
        if isolation.singleID {
            guard user.uid == 0 && user.gid == 0 else {
                throw RuntimeError(.unknownUser, "RUN as USER \(step.user ?? "root") needs uid \(user.uid) and gid \(user.gid), but img runs with a single id (only 0 exists in its user namespace): give this user a range in /etc/subuid and /etc/subgid")
            }
            user.additionalGids = []
        }
        if rootless { try Self.checkRaisable(step.ulimits) }
        let hostFiles = RuntimeSpec.hostFiles.filter { access($0, R_OK) == 0 }
        let bundle = try makeBundle()
        defer { removeBundle(bundle) }
        var hostsFile: String?
        if !step.extraHosts.isEmpty {
            hostsFile = bundle + "/hosts"
            do { try SmallTextFile.write(Array(Self.hosts(adding: step.extraHosts).utf8), to: hostsFile!) } catch {
                throw RuntimeError(.system, "cannot write \(hostsFile!): \(error)")
            }
        }
        let spec = RuntimeSpec(step: step, user: user, rootless: rootless, hostFiles: hostFiles, isolation: isolation,
                               hostsFile: hostsFile)
        let mountpoints = RootfsMountpoints(
            rootfs: step.rootfs,
            paths: ["/proc", "/dev", "/sys"] + Set(hostFiles + (hostsFile == nil ? [] : ["/etc/hosts"])).sorted()
                + step.mounts.map(\.destination))
        defer { mountpoints.removeCreated() }
        try writeConfig(spec, into: bundle)
        let id = "img-" + bundle.split(separator: "/").last!.dropFirst("step-".count)

        let control = ContainerControl()
        let result: Result<ProcessStatus, RuntimeError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let thread = Thread {
                    continuation.resume(returning: self.runBlocking(id: id, bundle: bundle, control: control, output: output))
                }
                thread.name = "img-run \(id)"
                thread.start()
            }
        } onCancel: {
            control.cancel()
        }
        let status = try result.get()
        if control.isCancelled { throw RuntimeError(.cancelled, "RUN cancelled: \(step.command)") }
        switch status {
        case .exited(0):
            return
        case .exited(let code):
            if let failure = runtimeFailure(bundle: bundle) {
                throw RuntimeError(.runtimeFailed, "runc failed to run the step: \(failure)")
            }
            // In single-id mode a chown to any other id fails (EINVAL): say why, since the step can't.
            let hint = isolation.singleID ? " (img runs with a single id: only uid and gid 0 exist, so chown to any other id fails; give this user a range in /etc/subuid and /etc/subgid)" : ""
            var failure = RuntimeError(.nonZeroExit, "RUN exited with code \(code): \(step.command)\(hint)", exitCode: code)
            failure.hint = hint
            throw failure
        case .signaled(let signal):
            throw RuntimeError(.killed, "RUN was killed by signal \(signal): \(step.command)")
        }
    }

    /// `runc run` in the foreground with stdout/stderr as pipes, read until end of file; kills the container
    /// when `control` is cancelled (repeatedly: the container may not exist yet at the first try), and
    /// deletes whatever runc left.
    private func runBlocking(
        id: String, bundle: String, control: ContainerControl, output: @Sendable (StdioStream, [UInt8]) -> Void
    ) -> Result<ProcessStatus, RuntimeError> {
        let runc: ChildProcess
        do {
            runc = try ChildProcess(
                executable: runtimePath,
                arguments: [
                    "--root", runcRoot, "--log", bundle + "/runc.log", "--log-format", "json",
                    "run", "--bundle", bundle, id,
                ],
                environment: ChildProcess.currentEnvironment, stdin: .null, stdout: .pipe, stderr: .pipe)
        } catch {
            return .failure(RuntimeError(.system, "cannot start \(runtimePath): \(error)"))
        }
        // `runc run` deletes the container when its process exits; only a run that was killed or failed half-way
        // leaves state, and only then is another runc started to delete it.
        defer { if access(runcRoot + "/" + id, F_OK) == 0 { runcQuietly(["delete", "--force", id]) } }
        var lastKill: UInt64 = 0
        let killIfCancelled = {
            guard control.isCancelled else { return }
            let now = DispatchTime.now().uptimeNanoseconds
            guard now - lastKill > 200_000_000 else { return }
            lastKill = now
            self.runcQuietly(["kill", id, "KILL"])
        }
        runc.drainOutput(tick: killIfCancelled) { stream, bytes in
            output(stream, bytes)
            killIfCancelled()
        }
        do {
            return .success(try runc.wait())
        } catch {
            return .failure(RuntimeError(.system, "\(error)"))
        }
    }

    private func runcQuietly(_ arguments: [String]) {
        _ = try? ChildProcess.collect(executable: runtimePath, arguments: ["--root", runcRoot] + arguments)
    }

    /// A fresh `step-<token>-XXXXXX` directory.
    private func makeBundle() throws(RuntimeError) -> String {
        var template = Array((bundleDirectory + "/step-\(ProcessOwners.token)-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw RuntimeError(.system, "\(SystemError.errno("create a bundle in \(bundleDirectory)"))") }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The bundle's `config.json`.
    private func writeConfig(_ spec: RuntimeSpec, into bundle: String) throws(RuntimeError) {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(spec)
            try SmallTextFile.write(Array(data), to: bundle + "/config.json")
        } catch {
            throw RuntimeError(.system, "cannot write \(bundle)/config.json: \(error)")
        }
    }

    private func removeBundle(_ bundle: String) {
        for name in ["config.json", "runc.log", "hosts"] { unlink(bundle + "/" + name) }
        rmdir(bundle)
    }

    /// The step's `/etc/hosts` with `--add-host` entries: the host's file (what steps see without them), or
    /// BuildKit's localhost lines if it has none, then one `IP NAME` line each.
    static func hosts(adding extra: [RunStep.ExtraHost], base: String = "/etc/hosts") -> String {
        var text = (try? SmallTextFile.read(base)) ?? "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
        for host in extra { text += "\(host.address)\t\(host.name)\n" }
        return text
    }

    /// Rootless: the kernel lets no one in img's user namespace raise a hard limit above img's own, and runc
    /// would fail with a bare EPERM; say which `--ulimit` it is instead.
    static func checkRaisable(_ ulimits: [RunStep.Ulimit]) throws(RuntimeError) {
        for limit in ulimits {
            guard let resource = RunStep.Ulimit.names[limit.name] else { continue }
            var current = rlimit()
            guard getrlimit(__rlimit_resource_t(UInt32(resource)), &current) == 0 else { continue }
            let ownHard = UInt64(current.rlim_max)
            if limit.hard > ownHard {
                let shown = ownHard == UInt64.max ? "unlimited" : String(ownHard)
                let wanted = limit.hard == UInt64.max ? "unlimited" : String(limit.hard)
                throw RuntimeError(.runtimeFailed, "--ulimit \(limit.name): hard limit \(wanted) is above img's own (\(shown)), which rootless img cannot raise; lower it or build as root")
            }
        }
    }

    /// runc's own last error from its JSON log, if it logged one (then a non-zero exit is runc's, not the
    /// step's).
    private func runtimeFailure(bundle: String) -> String? {
        guard let log = try? SmallTextFile.read(bundle + "/runc.log") else { return nil }
        struct Entry: Decodable {
            var level: String?
            var msg: String?
        }
        let decoder = JSONDecoder()
        var message: String?
        for line in log.split(separator: "\n") {
            if let entry = try? decoder.decode(Entry.self, from: Data(line.utf8)),
                entry.level == "error" || entry.level == "fatal", let text = entry.msg
            {
                message = text
            }
        }
        return message
    }
}

/// The cancellation flag shared between the awaiting task and the thread that runs runc.
private final class ContainerControl: Sendable {
    private let cancelled = Atomic<Bool>(false)
    var isCancelled: Bool { cancelled.load(ordering: .acquiring) }
    func cancel() { cancelled.store(true, ordering: .releasing) }
}
