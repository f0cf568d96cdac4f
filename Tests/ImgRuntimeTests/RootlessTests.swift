import Glibc
import ImgRuntime
import ImgSystem
import Testing
import ImgTestSupport

/// Real unprivileged users, set up here as root (idempotently):
/// - `imgtest`, with a subordinate uid/gid range of at least 65536 ids (`useradd` gives one by default on
///   Debian; otherwise `usermod --add-subuids 200000-265535 --add-subgids 200000-265535`);
/// - `imgnosub`, with none.
/// Each test starts this test binary as one of them through `runuser`, filtered to `RootlessDriver`, which
/// enters the user namespace through the shim and reports what it saw.
@Suite(.serialized, .needs(.rootlessTestUsers, .root, .runc, .busybox)) struct RootlessTests {
    struct TestUser {
        var name: String
        var uid: UInt32
        var gid: UInt32
        var subuidStart: UInt32
        var subgidStart: UInt32
    }

    static let userWithRange = TestUsers.withRange
    static let userWithoutRange = TestUsers.withoutRange

    /// Creates the users if needed (`TestUsers`); returns `imgtest`.
    static func ensureUsers() throws -> TestUser {
        let user = try TestUsers.ensureWithRange()
        try TestUsers.ensureWithoutRange()
        return TestUser(name: user.name, uid: user.uid, gid: user.gid, subuidStart: user.subuidStart, subgidStart: user.subgidStart)
    }

    /// The test binary, run as `user` with only the driver's variables (and `path`) in its environment.
    /// `onLine` sees each stdout line as it comes, with the driver's process id when it has reported it.
    static func drive(
        _ scenario: String, as user: String, workdir: String, path: String = standardPath,
        onLine: (String, Int32?) -> Void = { _, _ in }
    ) throws -> (status: ProcessStatus, report: [String: String], output: String) {
        let binary = try SmallTextFile.readLink("/proc/self/exe")
        let child = try ChildProcess(
            executable: "/usr/sbin/runuser",
            arguments: [
                "-u", user, "--", "/usr/bin/env", "-i", "PATH=\(path)", "HOME=/tmp",
                "IMG_TEST_ROOTLESS_DRIVER=\(scenario)", "IMG_TEST_WORKDIR=\(workdir)",
                binary, "--testing-library", "swift-testing", "--filter", "RootlessDriver",
            ],
            environment: ["PATH=\(standardPath)"], stdin: .null, stdout: .pipe, stderr: .pipe)
        var output = ""
        var pending = ""
        var outerPID: Int32?
        child.drainOutput { stream, bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            output += text
            guard stream == .stdout else { return }
            pending += text
            while let newline = pending.firstIndex(of: "\n") {
                let line = String(pending[..<newline])
                pending = String(pending[pending.index(after: newline)...])
                if line.hasPrefix("OUTER_PID ") { outerPID = Int32(line.dropFirst("OUTER_PID ".count)) }
                onLine(line, outerPID)
            }
        }
        let status = try child.wait()
        var report: [String: String] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            if let key = parts.first, key.allSatisfy({ $0.isUppercase || $0 == "_" }), key.count > 1 {
                report[String(key)] = parts.count > 1 ? String(parts[1]) : ""
            }
        }
        return (status, report, output)
    }

    /// A busybox workspace owned by `user` (root inside its namespace), with `/f` for chown and an overlay
    /// area whose lower directory has a file to delete.
    static func workspace(for user: TestUser) throws -> TestWorkspace {
        let workspace = try TestWorkspace()
        try writeFile(workspace.rootfs + "/f", "")
        for name in ["lower", "upper", "work", "merged"] { mkdir(workspace.path + "/overlay", 0o755); mkdir(workspace.path + "/overlay/" + name, 0o755) }
        try writeFile(workspace.path + "/overlay/lower/gone", "x")
        try workspace.chownAll(to: "\(user.uid):\(user.gid)")
        // app's home, as the namespace's 1000 sees it: the range's 1000th id on the host.
        chown(workspace.rootfs + "/home/app", user.subuidStart + 999, user.subgidStart + 999)
        return workspace
    }

    @Test func stepsRunAsRootInTheNamespace() throws {
        let user = try Self.ensureUsers()
        let workspace = try Self.workspace(for: user)
        defer { workspace.remove() }
        let run = try Self.drive("steps", as: user.name, workdir: workspace.path)
        let report = run.report
        #expect(report["STATE"] == "inside shim=true uid=0 gid=0", "\(run.output)")
        #expect(report["ROOTLESS_SPEC"] == "true")
        #expect(report["ID"] == "0|0|rootless|")
        #expect(report["CHOWN"] == "1000:1000|")
        // Seen from the host, the namespace's 1000 is the range's 1000th id.
        var info = stat()
        #expect(stat(workspace.rootfs + "/f", &info) == 0)
        #expect(info.st_uid == user.subuidStart + 999 && info.st_gid == user.subgidStart + 999)
        #expect(report["FILES"] == "renamed|")
        #expect(exists(workspace.rootfs + "/keep/renamed") && !exists(workspace.rootfs + "/d") && !exists(workspace.rootfs + "/bin/yes"))
        #expect(stat(workspace.rootfs + "/keep/renamed", &info) == 0 && info.st_uid == user.uid)
        #expect(report["USER"] == "1000|1000|1000 2000|")
        #expect(report["NETNONE"] == "lo|")
        #expect(report["EXIT"] == "ERROR RUN exited with code 7: exit 7 ")
        #expect(report["OVERLAY"] == "whiteout=true new=true")
        #expect(report["LEFT_MOUNTS"] == "0")
        #expect(directoryEntries(workspace.state + "/runtime/runc").isEmpty)
        #expect(directoryEntries(workspace.state + "/runtime/bundles").isEmpty)
        #expect(!exists(workspace.rootfs + "/etc/resolv.conf") && !exists(workspace.rootfs + "/proc"))
        #expect(run.status == .exited(0), "\(run.output)")
    }

    @Test func sigtermReachesTheStepWhichIsKilledAndCleanedUp() throws {
        let user = try Self.ensureUsers()
        let workspace = try Self.workspace(for: user)
        defer { workspace.remove() }
        var signalled = false
        let run = try Self.drive("interrupt", as: user.name, workdir: workspace.path) { line, outerPID in
            // The step runs: SIGTERM the outer (unprivileged, outside) process, as a service manager would.
            if line.hasPrefix("STARTED"), let outerPID, !signalled {
                signalled = true
                kill(outerPID, SIGTERM)
            }
        }
        #expect(signalled, "\(run.output)")
        #expect(run.report["SIGNAL"] == String(SIGTERM), "\(run.output)")
        #expect(run.report["RUN_RESULT"] == "cancelled")
        #expect(directoryEntries(workspace.state + "/runtime/runc").isEmpty)
        #expect(directoryEntries(workspace.state + "/runtime/bundles").isEmpty)
        let sleepers = try host("/bin/sh", "-c", "grep -al 'slee[p].4343' /proc/[0-9]*/cmdline 2>/dev/null || true")
        #expect(sleepers.isEmpty)
    }

    @Test func missingNewuidmapIsAClearError() throws {
        let user = try Self.ensureUsers()
        let workspace = try Self.workspace(for: user)
        defer { workspace.remove() }
        // A PATH without /usr/bin, where Debian's uidmap puts newuidmap.
        let run = try Self.drive("steps", as: user.name, workdir: workspace.path, path: "/nonexistent")
        #expect(run.report["ENTRY_ERROR"] == "uidmap-missing newuidmap not found on PATH; rootless img needs it to map ids: install Debian package uidmap (apt-get install uidmap)", "\(run.output)")
        #expect(run.report["STATE"] == nil)
    }

    @Test func userWithoutSubordinateIDsIsAClearError() throws {
        _ = try Self.ensureUsers()
        let workspace = try TestWorkspace()
        defer { workspace.remove() }
        let run = try Self.drive("steps", as: Self.userWithoutRange, workdir: workspace.path)
        #expect(run.report["ENTRY_ERROR"] == "no-subordinate-ids no subordinate id range for user imgnosub in /etc/subuid: add one to /etc/subuid and /etc/subgid, e.g. usermod --add-subuids 100000-165535 --add-subgids 100000-165535 imgnosub", "\(run.output)")
    }

    @Test func failingNewuidmapIsReportedAndTheChildGivesUp() throws {
        let user = try Self.ensureUsers()
        let workspace = try Self.workspace(for: user)
        defer { workspace.remove() }
        // A newuidmap that refuses, first on PATH, as a broken (not setuid) install would.
        let fakes = workspace.path + "/fakebin"
        mkdir(fakes, 0o755)
        try writeFile(fakes + "/newuidmap", "#!/bin/sh\necho 'newuidmap: write to uid_map failed: Operation not permitted' >&2\nexit 1\n", mode: 0o755)
        let run = try Self.drive("steps", as: user.name, workdir: workspace.path, path: fakes + ":" + standardPath)
        // EPERM is what a setuid helper gets inside a container: the line also names the file-capability fix.
        #expect(run.report["ENTRY_ERROR"] == "mapping-failed \(fakes)/newuidmap failed: newuidmap: write to uid_map failed: Operation not permitted: check that it is setuid root (reinstall Debian package uidmap) and that /etc/subuid and /etc/subgid ranges do not overlap other users'; inside a container a setuid helper lacks CAP_SYS_ADMIN over img's namespace: give both file capabilities instead: chmod u-s \(fakes)/newuidmap \(fakes)/newgidmap && setcap cap_setuid+ep \(fakes)/newuidmap && setcap cap_setgid+ep \(fakes)/newgidmap (or run the container with CAP_SYS_ADMIN)", "\(run.output)")
        #expect(run.report["STATE"] == nil)
        // The re-executed child saw end of file instead of "go" and left without a word.
        #expect(!run.output.contains("img: entering the user namespace"))
    }
}
