import Glibc
import ImgRuntime
import ImgSystem
import Testing
import ImgTestSupport

/// The unprivileged half of `RootlessTests`. Those tests (as root) start this same test binary as an ordinary
/// user, filtered to `RootlessDriver/drive()`, with `IMG_TEST_ROOTLESS_DRIVER` naming a scenario and
/// `IMG_TEST_WORKDIR` a workspace made for that user. Here it does what `img` will do: enter the user namespace
/// through the CImgShim constructor (re-executing this binary), then run steps with runc; it reports on stdout
/// in `KEY value` lines, which the root side checks. Run any other way it has nothing to drive and is disabled.
@Suite struct RootlessDriver {
    static let scenario = getenv("IMG_TEST_ROOTLESS_DRIVER").map { String(cString: $0) }
    static let workdir = getenv("IMG_TEST_WORKDIR").map { String(cString: $0) } ?? "/nonexistent"

    private static func report(_ key: String, _ value: String) {
        print(key, value.replacingNewlines)
        fflush(nil)
    }

    @Test(.enabled(if: RootlessDriver.scenario != nil, "started by RootlessTests as an unprivileged user"))
    func drive() async throws {
        // "idle" and "true" exist for measuring start-up cost (see the runtime report), not for tests.
        if Self.scenario == "idle" { return }
        if !UserNamespace.enteredByShim { Self.report("OUTER_PID", String(getpid())) }
        do {
            try UserNamespace.enterIfNeeded()
        } catch {
            Self.report("ENTRY_ERROR", "\(error.code.rawValue) \(error)")
            exit(3)
        }
        // From here on: the inner process.
        Self.report("STATE", "\(UserNamespace.state) shim=\(UserNamespace.enteredByShim) uid=\(getuid()) gid=\(getgid())")
        switch Self.scenario {
        case "steps": try await steps()
        case "interrupt": try await interrupt()
        case "true":
            // Milliseconds since the outer process started (its /proc stat start time, in clock ticks since
            // boot), for the start-up measurements.
            func sinceOuterStart() -> Int {
                var now = timespec()
                clock_gettime(CLOCK_BOOTTIME, &now)
                let stat = (try? SmallTextFile.read("/proc/\(getppid())/stat")) ?? nil
                let fields = stat.map { $0[$0.lastIndex(of: ")")!...].split(separator: " ") } ?? []
                let ticks = fields.count > 20 ? Int(fields[20]) ?? 0 : 0
                return (Int(now.tv_sec) * 1000 + Int(now.tv_nsec) / 1_000_000) - ticks * 1000 / Int(sysconf(Int32(_SC_CLK_TCK)))
            }
            Self.report("ENTERED_MS", String(sinceOuterStart()))
            let executor = try RuncExecutor(stateDirectory: Self.workdir + "/state")
            Self.report("TRUE", await runStep(executor, "true"))
            Self.report("DONE_MS", String(sinceOuterStart()))
        default: Self.report("UNKNOWN_SCENARIO", Self.scenario ?? "")
        }
    }

    private func runStep(_ executor: RuncExecutor, _ script: String, user: String? = nil, network: RunStep.Network = .host) async -> String {
        var step = RunStep(rootfs: Self.workdir + "/rootfs", command: .shell(script), user: user, network: network)
        step.hostname = "rootless"
        let log = OutputLog()
        do {
            try await executor.run(step, output: log.append)
            return log.stdout + log.stderr
        } catch {
            return "ERROR \(error) \(log.stderr)"
        }
    }

    private func steps() async throws {
        let executor = try RuncExecutor(stateDirectory: Self.workdir + "/state")
        Self.report("ROOTLESS_SPEC", String(executor.rootless))
        Self.report("ID", await runStep(executor, "id -u; id -g; hostname"))
        Self.report("CHOWN", await runStep(executor, "chown 1000:1000 /f && stat -c %u:%g /f"))
        Self.report("FILES", await runStep(executor, """
            mkdir -p /d/e && echo one > /d/e/a && mv /d/e/a /d/e/b && rm /d/e/b && rmdir /d/e && rmdir /d && \
            mkdir /keep && echo hi > /keep/file && mv /keep/file /keep/renamed && rm /bin/yes && ls /keep
            """))
        Self.report("USER", await runStep(executor, "id -u; id -g; id -G", user: "app"))
        Self.report("NETNONE", await runStep(executor, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '", network: .none))
        Self.report("EXIT", await runStep(executor, "exit 7"))

        // Overlayfs with userxattr, inside the namespace: a deleted lower file becomes a 0/0 whiteout device.
        let overlay = Self.workdir + "/overlay"
        do {
            try Mount.overlay(lower: [overlay + "/lower"], upper: overlay + "/upper", work: overlay + "/work", target: overlay + "/merged")
            unlink(overlay + "/merged/gone")
            let created = open(overlay + "/merged/new", O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            if created >= 0 { close(created) }
            try Mount.unmount(overlay + "/merged")
            var info = stat()
            let whiteout = lstat(overlay + "/upper/gone", &info) == 0 && info.st_mode & S_IFMT == S_IFCHR && info.st_rdev == 0
            Self.report("OVERLAY", "whiteout=\(whiteout) new=\(access(overlay + "/upper/new", F_OK) == 0)")
        } catch {
            Self.report("OVERLAY", "ERROR \(error)")
        }
        let mounts = (try? MountInfoEntry.current().filter { $0.mountPoint.hasPrefix(Self.workdir) }.count) ?? -1
        Self.report("LEFT_MOUNTS", String(mounts))
    }

    private func interrupt() async throws {
        let executor = try RuncExecutor(stateDirectory: Self.workdir + "/state")
        let step = RunStep(rootfs: Self.workdir + "/rootfs", command: .shell("echo started; exec sleep 4343"))
        let task = Task { () async throws -> Void in
            try await executor.run(step) { _, bytes in
                if String(decoding: bytes, as: UTF8.self).contains("started") { Self.report("STARTED", "") }
            }
        }
        // What `img` does with Ctrl-C and SIGTERM: cancel the work, let the executor clean up, then exit.
        let signals = InterruptSignals { number in
            Self.report("SIGNAL", String(number))
            task.cancel()
        }
        let result = await task.result
        withExtendedLifetime(signals) {}
        switch result {
        case .success: Self.report("RUN_RESULT", "success")
        case .failure(let error): Self.report("RUN_RESULT", (error as? RuntimeError)?.code.rawValue ?? "\(error)")
        }
    }
}

extension String {
    fileprivate var replacingNewlines: String {
        split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "|")
    }
}
