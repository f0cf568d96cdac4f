package import ImgSystem

extension RuntimeSpec {
    /// Docker's default `PATH`, used when the step's environment has none.
    package static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// The spec for `step` run as `user`.
    ///
    /// `rootless` (img runs in its own user namespace, not as real root) changes what the kernel allows:
    /// sysfs cannot be mounted there (the namespace does not own the host's network namespace), so `/sys` is
    /// a read-only bind of the host's; runc itself bind-mounts the standard devices in `/dev` instead of
    /// creating them, and skips cgroups, which the spec does not ask for. `hostFiles` are bound read-only at
    /// the same path (the executor passes those of `RuntimeSpec.hostFiles` that exist). A sandboxed step gets
    /// docker's default capabilities and seccomp filter, an insecure one every capability and no filter.
    /// `isolation` says what the place img runs in allows (see `StepIsolation`).
    /// `hostsFile` (a file made for `--add-host`) is bound on `/etc/hosts` in place of the host's.
    package init(step: RunStep, user: ContainerUser, rootless: Bool, hostFiles: [String] = RuntimeSpec.hostFiles,
                 isolation: StepIsolation = StepIsolation(), hostsFile: String? = nil) {
        var environment = step.environment
        if !environment.contains(where: { $0.hasPrefix("PATH=") }) { environment.insert("PATH=\(Self.defaultPath)", at: 0) }
        if !environment.contains(where: { $0.hasPrefix("HOME=") }) { environment.append("HOME=\(user.home)") }

        // Insecure is what BuildKit grants `security.insecure`: every capability img has, and no filter.
        let capabilities = step.security == .insecure ? Capability.bounding : Capability.dockerDefault
        let seccomp = step.security == .insecure ? nil : SeccompProfile.dockerDefault(capabilities: capabilities)
        var process = RuntimeProcess(
            user: RuntimeUser(uid: user.uid, gid: user.gid, additionalGids: user.additionalGids.isEmpty ? nil : user.additionalGids),
            args: step.command.arguments, env: environment, cwd: step.workingDirectory,
            capabilities: RuntimeCapabilities(capabilities))
        if !step.ulimits.isEmpty {
            process.rlimits = step.ulimits.map { RuntimeRlimit(type: $0.type, soft: $0.soft, hard: $0.hard) }
        }

        let hardened = ["nosuid", "noexec", "nodev"]
        let proc = isolation.ownProcesses
            ? RuntimeMount(destination: "/proc", type: "proc", source: "proc", options: hardened)
            : RuntimeMount(destination: "/proc", type: "bind", source: "/proc", options: ["rbind"] + hardened + ["ro"])
        // gid 5 (tty) does not exist in a single-id namespace, and devpts refuses an unmapped gid.
        let ptsGroup = isolation.singleID ? [] : ["gid=5"]
        var mounts: [RuntimeMount] = [
            proc,
            RuntimeMount(
                destination: "/dev", type: "tmpfs", source: "tmpfs",
                options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            RuntimeMount(
                destination: "/dev/pts", type: "devpts", source: "devpts",
                options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] + ptsGroup),
            RuntimeMount(destination: "/dev/shm", type: "tmpfs", source: "shm", options: hardened + ["mode=1777", "size=\(step.shmSize.map(String.init) ?? "65536k")"]),
            RuntimeMount(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: hardened),
        ]
        if rootless {
            mounts.append(RuntimeMount(destination: "/sys", type: "bind", source: "/sys", options: ["rbind"] + hardened + ["ro"]))
        } else {
            mounts.append(RuntimeMount(destination: "/sys", type: "sysfs", source: "sysfs", options: hardened + ["ro"]))
        }
        for file in hostFiles where !(file == "/etc/hosts" && hostsFile != nil) {
            mounts.append(.bind(file, on: file, readOnly: true))
        }
        if let hostsFile { mounts.append(.bind(hostsFile, on: "/etc/hosts", readOnly: true)) }
        for extra in step.mounts {
            switch extra.kind {
            case .bind(let source, let readOnly):
                mounts.append(.bind(source, on: extra.destination, readOnly: readOnly))
            case .tmpfs(let options):
                mounts.append(.tmpfs(on: extra.destination, options: options.isEmpty ? ["nosuid", "nodev", "mode=755"] : options))
            }
        }

        var namespaces: [RuntimeNamespace] = [.init(.ipc), .init(.uts), .init(.mount)]
        if isolation.ownProcesses { namespaces.insert(.init(.pid), at: 0) }
        if step.network == .none { namespaces.append(.init(.network)) }

        self.init(
            process: process, root: RuntimeRoot(path: step.rootfs, readonly: false), hostname: step.hostname,
            mounts: mounts,
            linux: RuntimeLinux(
                namespaces: namespaces, maskedPaths: RuntimeLinux.defaultMaskedPaths,
                readonlyPaths: RuntimeLinux.defaultReadonlyPaths, seccomp: seccomp))
    }

    /// Host files every step sees read-only, so name resolution works as on the host.
    package static let hostFiles = ["/etc/resolv.conf", "/etc/hosts"]
}
