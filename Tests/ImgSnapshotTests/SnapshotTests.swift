import Foundation
import Glibc
import ImgOCI
import ImgSnapshot
import ImgSystem
import Synchronization
import Testing
import ImgTestSupport

/// Every backend, as real root (in a private mount namespace) and as an unprivileged user (in img's user
/// namespace): the scenarios run in `SnapshotDriver`, started here; afterwards the host must show no mount,
/// no fuse-overlayfs process and no work directory. Serialized: they share `/dev/fuse`'s mode.
@Suite(.serialized) struct SnapshotTests {
    enum Mode: String, CaseIterable, Sendable { case root, rootless }

    static let testUser = TestUsers.withRange
    /// Without a subordinate range: cannot enter img's user namespace.
    static let userWithoutRange = TestUsers.withoutRange

    /// Creates `imgtest` with a 65536-id subordinate range if needed (`TestUsers`).
    static func ensureTestUser() throws -> (uid: UInt32, gid: UInt32) {
        let user = try TestUsers.ensureWithRange()
        return (user.uid, user.gid)
    }

    /// Runs the driver; returns its status and output.
    static func drive(_ backend: SnapshotBackend, _ mode: Mode, scenario: String = "all", workdir: String,
                      user: String = testUser) throws -> (ProcessStatus, String) {
        let binary = try SmallTextFile.readLink("/proc/self/exe")
        let variables = ["PATH=\(standardPath)", "HOME=/tmp", "IMG_TEST_SNAPSHOT_BACKEND=\(backend.rawValue)",
                         "IMG_TEST_SNAPSHOT_SCENARIO=\(scenario)", "IMG_TEST_WORKDIR=\(workdir)"]
        let test = [binary, "--testing-library", "swift-testing", "--filter", "SnapshotDriver"]
        let child: ChildProcess
        switch mode {
        case .root:
            child = try ChildProcess(executable: binary, arguments: Array(test.dropFirst()), environment: variables,
                                     stdin: .null, stdout: .pipe, stderr: .pipe)
        case .rootless:
            child = try ChildProcess(executable: "/usr/sbin/runuser", arguments: ["-u", user, "--", "/usr/bin/env", "-i"] + variables + test,
                                     environment: ["PATH=\(standardPath)"], stdin: .null, stdout: .pipe, stderr: .pipe)
        }
        var output: [UInt8] = []
        child.drainOutput { _, bytes in output += bytes }
        return (try child.wait(), String(decoding: output, as: UTF8.self))
    }

    /// A work directory the driver's user owns, with `/dev/fuse` opened up for it (restored after). A test
    /// using it says `.needs(.rootlessTestUsers, .devFuse)`.
    static func withWorkdir(_ mode: Mode, fuseMode: mode_t = 0o666, _ body: (String) throws -> Void) throws {
        try withDevFuseLock { try withWorkdirLocked(mode, fuseMode: fuseMode, body) }
    }

    private static func withWorkdirLocked(_ mode: Mode, fuseMode: mode_t, _ body: (String) throws -> Void) throws {
        let user = try ensureTestUser()
        let workdir = try makeTemporaryDirectory("img-snapshot-test")
        defer { removeTree(workdir) }
        chmod(workdir, 0o755)
        if mode == .rootless { chown(workdir, user.uid, user.gid) }
        try Prerequisite.devFuse.require()
        var fuse = stat()
        stat("/dev/fuse", &fuse)
        chmod("/dev/fuse", fuseMode)
        defer { chmod("/dev/fuse", fuse.st_mode & 0o7777) }
        try body(workdir)
        // Seen from the host: nothing mounted, running or left behind.
        #expect(mounts(under: workdir).isEmpty, "\(mounts(under: workdir))")
        #expect(fuseOverlayProcesses(under: workdir).isEmpty, "fuse-overlayfs still running: \(fuseOverlayProcesses(under: workdir))")
        #expect(entries(workdir + "/state/snapshots/tmp").isEmpty)
        #expect(entries(workdir + "/sentinel").isEmpty)
    }

    @Test(.needs(.fuseOverlayfs, .rootlessTestUsers, .devFuse), arguments: SnapshotBackend.allCases, Mode.allCases)
    func scenarios(_ backend: SnapshotBackend, _ mode: Mode) throws {
        try Prerequisite.fuseOverlayfs.require()
        try Self.withWorkdir(mode) { workdir in
            let (status, output) = try Self.drive(backend, mode, workdir: workdir)
            #expect(status == .exited(0), "\(output)")
            let expectedState = mode == .root ? "STATE privileged private=true shim=false" : "STATE inside private=false shim=true"
            #expect(output.contains(expectedState), "\(output)")
            #expect(output.contains("passed"), "\(output)")
        }
    }

    /// Two processes prepare the same eight-layer chain at once: both succeed with the same snapshot, each
    /// layer is stored once, and no work directory is left.
    @Test(.needs(.rootlessTestUsers, .devFuse), arguments: [SnapshotBackend.overlayfs, .native], Mode.allCases)
    func twoProcessesPrepareOneChain(_ backend: SnapshotBackend, _ mode: Mode) throws {
        try Self.withWorkdir(mode) { workdir in
            let runs = Mutex<[(ProcessStatus, String)]>([])
            DispatchQueue.concurrentPerform(iterations: 2) { _ in
                let run = (try? Self.drive(backend, mode, scenario: "race", workdir: workdir)) ?? (.exited(-1), "could not start")
                runs.withLock { $0.append(run) }
            }
            let results = runs.withLock { $0 }
            let chains = results.map { run in run.1.split(separator: "\n").first { $0.hasPrefix("CHAIN ") }.map(String.init) }
            for (status, output) in results { #expect(status == .exited(0), "\(output)") }
            #expect(chains.count == 2 && chains[0] != nil && chains[0] == chains[1], "\(chains)")
            let stored = entries(workdir + "/state/snapshots/" + (backend == .native ? "native" : "overlay"))
            #expect(stored.count == (backend == .native ? 1 : 8), "\(stored)")
        }
    }

    @Test(.needs(.rootlessTestUsers, .devFuse))
    func anOrdinaryUserOutsideGetsNativeAndReasons() throws {
        let (uid, gid) = try TestUsers.ensureWithoutRange()
        try Self.withWorkdir(.root) { workdir in
            chown(workdir, uid, gid)
            let (status, output) = try Self.drive(.native, .rootless, scenario: "outside", workdir: workdir, user: Self.userWithoutRange)
            #expect(status == .exited(0), "\(output)")
            #expect(output.contains("passed"), "\(output)")
        }
    }

    @Test(.needs(.rootlessTestUsers, .devFuse))
    func rootlessWithoutDevFuseFallsBackAndExplains() throws {
        try Self.withWorkdir(.rootless, fuseMode: 0o600) { workdir in
            let (status, output) = try Self.drive(.fuseOverlayfs, .rootless, scenario: "no-fuse", workdir: workdir)
            #expect(status == .exited(0), "\(output)")
            #expect(output.contains("FORCED_ERROR the fuse-overlayfs snapshotter cannot work here: /dev/fuse cannot be opened"), "\(output)")
        }
    }

    @Test func chainIDsFollowTheImageSpec() throws {
        let a = try Digest(parsing: "sha256:" + String(repeating: "a", count: 64))
        let b = try Digest(parsing: "sha256:" + String(repeating: "b", count: 64))
        #expect(ChainID.of([]) == nil)
        #expect(ChainID.of([a]) == a)
        #expect(ChainID.of([a, b]) == Digest.sha256(of: Array("\(a) \(b)".utf8)))
        #expect(ChainID.prefixes([a, b, a]) == [a, ChainID.of([a, b])!, ChainID.of([a, b, a])!])
        #expect(Snapshot(diffIDs: [a, b]).chainID == ChainID.of([a, b]))
        #expect(Snapshot.empty.chainID == nil)
    }

    @Test func nativeNeedsNoPrivilegeAndForcedBackendsExplain() throws {
        let directory = try makeTemporaryDirectory("img-snapshot-select")
        defer { removeTree(directory) }
        let lines = LogLines()
        #expect(try SnapshotStore.select(.native, root: directory + "/snapshots", log: lines.append) == .native)
        #expect(lines.all == ["snapshotter: native (forced)"])
        #expect(BackendChoice.allCases.map(\.forced) == [nil, .overlayfs, .native, .fuseOverlayfs])
        let error = SnapshotError(.unavailable, "the overlayfs snapshotter cannot work here", cause: SystemError(operation: "mount", code: EPERM))
        #expect(error.description == "the overlayfs snapshotter cannot work here: mount: Operation not permitted")
    }
}
