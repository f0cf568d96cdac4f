import Glibc
import ImgRuntime
import ImgSystem
import Synchronization
import Testing
import ImgTestSupport

/// Real runc, real busybox rootfs, as root. Each test has its own workspace and checks nothing is left.
@Suite struct RuncExecutorTests {
    /// Runs `step` (in `workspace.rootfs`) and returns its output; rethrows the executor's error.
    private func run(
        _ workspace: TestWorkspace, _ command: RunStep.Command, configure: (inout RunStep) -> Void = { _ in },
        output: (@Sendable (StdioStream, [UInt8]) -> Void)? = nil
    ) async throws -> OutputLog {
        let executor = try RuncExecutor(stateDirectory: workspace.state)
        var step = RunStep(rootfs: workspace.rootfs, command: command)
        configure(&step)
        let log = OutputLog()
        try await executor.run(step) { stream, bytes in
            log.append(stream, bytes)
            output?(stream, bytes)
        }
        return log
    }

    /// Nothing of a step survives it: no mounts under the workspace, no runc state, no bundle, no mount targets
    /// runc had to create in the rootfs.
    private func expectClean(_ workspace: TestWorkspace, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let mounts = try MountInfoEntry.current().filter { $0.mountPoint.hasPrefix(workspace.path + "/") }
        #expect(mounts.isEmpty, "left mounted: \(mounts.map(\.mountPoint))", sourceLocation: sourceLocation)
        #expect(directoryEntries(workspace.state + "/runtime/runc").isEmpty, sourceLocation: sourceLocation)
        #expect(directoryEntries(workspace.state + "/runtime/bundles").isEmpty, sourceLocation: sourceLocation)
        for created in ["proc", "dev", "sys", "etc/resolv.conf", "etc/hosts"] {
            #expect(!exists(workspace.rootfs + "/" + created), "\(created) left in the rootfs", sourceLocation: sourceLocation)
        }
    }

    @Test(.needs(.root, .runc, .busybox))
    func idIsRoot() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        let log = try await run(workspace, .shell("id -u; id -g"))
        #expect(log.stdout == "0\n0\n")
        #expect(log.stderr == "")
        try expectClean(workspace)
    }

    @Test(.needs(.root, .runc, .busybox))
    func execFormPassesArgumentsUnsplit() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        let log = try await run(workspace, .exec(["/bin/echo", "a  b", "$HOME"]))
        #expect(log.stdout == "a  b $HOME\n")
    }

    @Test(.needs(.root, .runc, .busybox))
    func shellFormWithEnvironmentAndWorkingDirectory() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        let log = try await run(workspace, .shell("echo \"$GREETING\" from $(pwd); echo $PATH; echo $HOME")) {
            $0.environment = ["GREETING=hello there"]
            $0.workingDirectory = "/tmp"
        }
        #expect(log.stdout == "hello there from /tmp\n\(RuntimeSpec.defaultPath)\n/root\n")
    }

    @Test(.needs(.root, .runc, .busybox))
    func customShell() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        let log = try await run(workspace, .shell("echo $0", shell: ["/bin/ash", "-c"]))
        #expect(log.stdout == "/bin/ash\n")
    }

    @Test(.needs(.root, .runc, .busybox), arguments: [
        ("app", "1000 1000 1000 2000 /home/app"),
        ("1000:1000", "1000 1000 1000 2000 /home/app"),
        ("app:extra", "1000 2000 2000 /home/app"),
        ("4242", "4242 0 0 /"),
        ("4242:4343", "4242 4343 4343 /"),
        ("root", "0 0 0 /root"),
    ])
    func user(spec: String, expected: String) async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        let log = try await run(workspace, .shell("echo $(id -u) $(id -g) $(id -G) $HOME")) { $0.user = spec }
        #expect(log.stdout == expected + "\n")
    }

    @Test(.needs(.root, .runc, .busybox))
    func unknownUserIsAClearError() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        await #expect {
            _ = try await run(workspace, .shell("true")) { $0.user = "nobody" }
        } throws: { error in
            let error = error as? RuntimeError
            return error?.code == .unknownUser
                && error?.description == "unable to find user nobody: no matching entries in the image's /etc/passwd"
        }
        try expectClean(workspace)
    }

    @Test(.needs(.root, .runc, .busybox))
    func nonZeroExitNamesCodeAndCommand() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        let log = OutputLog()
        await #expect {
            _ = try await run(workspace, .shell("echo partial; exit 2"), output: log.append)
        } throws: { error in
            let error = error as? RuntimeError
            return error?.code == .nonZeroExit && error?.exitCode == 2 && error?.description == "RUN exited with code 2: echo partial; exit 2"
        }
        #expect(log.stdout == "partial\n")
        try expectClean(workspace)
    }

    @Test(.needs(.root, .runc, .busybox))
    func runcsOwnFailureIsReportedAsSuch() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        await #expect {
            _ = try await run(workspace, .exec(["/no/such/program"]))
        } throws: { error in
            let error = error as? RuntimeError
            return error?.code == .runtimeFailed && error!.description.hasPrefix("runc failed to run the step: ")
                && error!.description.contains("/no/such/program")
        }
        try expectClean(workspace)
    }

    @Test(.needs(.root, .runc, .busybox))
    func networkNoneHasOnlyLoopback() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        let log = try await run(workspace, .shell("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")) { $0.network = .none }
        #expect(log.stdout == "lo\n")
    }

    @Test(.needs(.root, .runc, .busybox))
    func hostNetworkSeesTheHostsInterfaces() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        let inside = try await run(workspace, .shell("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort"))
        let outside = try host("/bin/sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort")
        #expect(inside.stdout == outside)
    }

    @Test(.needs(.root, .runc, .busybox))
    func hostnameAndStandardMounts() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        let script = """
            hostname; test -c /dev/null && test -c /dev/zero && test -c /dev/urandom && echo devices;
            grep -q ' /dev/pts devpts ' /proc/mounts && grep -q ' /dev/shm tmpfs ' /proc/mounts && echo dev-mounts;
            grep ' /sys ' /proc/mounts | grep -q ' ro,' && echo sys-ro;
            test -r /etc/resolv.conf && echo resolv; echo x > /etc/hosts 2>/dev/null || echo hosts-ro;
            echo data > /dev/null && echo null-writable
            """
        let log = try await run(workspace, .shell(script)) { $0.hostname = "builder" }
        #expect(log.stdout == "builder\ndevices\ndev-mounts\nsys-ro\nresolv\nhosts-ro\nnull-writable\n")
        try expectClean(workspace)
    }

    @Test(.needs(.root, .runc, .busybox))
    func extraBindAndTmpfsMounts() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        mkdir(workspace.path + "/cache", 0o755)
        try writeFile(workspace.path + "/cache/seed", "seeded\n")
        let log = try await run(workspace, .shell("cat /cache/seed; echo more > /cache/added; echo t > /scratch/t && cat /scratch/t; echo x > /ro/y || echo ro-refused")) {
            $0.mounts = [
                .init(destination: "/cache", kind: .bind(source: workspace.path + "/cache", readOnly: false)),
                .init(destination: "/scratch", kind: .tmpfs(options: [])),
                .init(destination: "/ro", kind: .bind(source: workspace.path + "/cache", readOnly: true)),
            ]
        }
        #expect(log.stdout == "seeded\nt\nro-refused\n")
        #expect(exists(workspace.path + "/cache/added"))
        // The mount targets runc created in the rootfs are gone again.
        #expect(!exists(workspace.rootfs + "/cache") && !exists(workspace.rootfs + "/scratch") && !exists(workspace.rootfs + "/ro"))
        try expectClean(workspace)
    }

    @Test(.needs(.root, .runc, .busybox))
    func rootfsChangesStay() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        _ = try await run(workspace, .shell("mkdir -p /opt/x && echo made > /opt/x/f && chown 1000:2000 /opt/x/f && rm /bin/yes"))
        var info = stat()
        #expect(stat(workspace.rootfs + "/opt/x/f", &info) == 0 && info.st_uid == 1000 && info.st_gid == 2000)
        #expect(!exists(workspace.rootfs + "/bin/yes"))
        try expectClean(workspace)
    }

    @Test(.needs(.root, .runc, .busybox))
    func outputStreamsWhileTheStepRuns() async throws {
        // The step waits for a file that only the output handler creates, after it has seen "ready": it can
        // only finish if output reaches the handler while the step is still running.
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        let go = workspace.rootfs + "/tmp/go"
        let log = try await run(workspace, .shell("echo ready; i=0; while [ ! -e /tmp/go ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; test -e /tmp/go && echo done"), output: { stream, bytes in
            if stream == .stdout && String(decoding: bytes, as: UTF8.self).contains("ready") { _ = try? writeFile(go, "") }
        })
        #expect(log.stdout == "ready\ndone\n")
    }

    @Test(.needs(.root, .runc, .busybox))
    func streamsKeepTheirOrder() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        let log = try await run(workspace, .shell("seq 1 20000; seq 1 3000 >&2"))
        #expect(log.stdout == (1...20000).map { "\($0)\n" }.joined())
        #expect(log.stderr == (1...3000).map { "\($0)\n" }.joined())
    }

    @Test(.needs(.root, .runc, .busybox))
    func cancellationKillsTheContainerAndCleansUp() async throws {
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        let started = Flag()
        let task = Task {
            try await run(workspace, .shell("echo started; exec sleep 4242"), output: { _, bytes in
                if String(decoding: bytes, as: UTF8.self).contains("started") { started.set() }
            })
        }
        while !started.isSet { try await Task.sleep(for: .milliseconds(20)) }
        task.cancel()
        await #expect {
            _ = try await task.value
        } throws: { error in
            (error as? RuntimeError)?.code == .cancelled
        }
        try expectClean(workspace)
        let sleepers = try host("/bin/sh", "-c", "grep -al 'slee[p].4242' /proc/[0-9]*/cmdline 2>/dev/null || true")
        #expect(sleepers.isEmpty)
    }

    @Test func missingRuncSaysWhichPackage() {
        #expect {
            try RuncExecutor(stateDirectory: "/tmp", searchPath: "/nonexistent")
        } throws: { error in
            (error as? RuntimeError)?.description == "runc not found: install Debian package runc"
        }
        #expect {
            try RuncExecutor(stateDirectory: "/tmp", runtimePath: "/nonexistent/crun")
        } throws: { error in
            (error as? RuntimeError)?.code == .runtimeNotFound
        }
    }
}
