import Foundation
import Glibc
import ImgArchive
import ImgSnapshot
import ImgSystem
import Testing
import ImgTestSupport

/// The half of `SnapshotTests` that runs where snapshots are made: `SnapshotTests` (as root) starts this test
/// binary filtered to `SnapshotDriver`, as root or through `runuser` as the unprivileged `imgtest`, with
/// `IMG_TEST_SNAPSHOT_BACKEND`, `IMG_TEST_SNAPSHOT_SCENARIO` and `IMG_TEST_WORKDIR` set. It first re-executes
/// itself into a private mount namespace (root) or img's user namespace (ordinary user), as `img` does, then
/// runs the scenarios with ordinary expectations: any failure fails this process, which the root side
/// reports with the output. Run any other way it has nothing to drive and is disabled.
@Suite struct SnapshotDriver {
    static let environment = ProcessInfo.processInfo.environment
    static let backend = environment["IMG_TEST_SNAPSHOT_BACKEND"].flatMap(SnapshotBackend.init(rawValue:))
    static let scenario = environment["IMG_TEST_SNAPSHOT_SCENARIO"] ?? "all"
    static let workdir = environment["IMG_TEST_WORKDIR"] ?? "/nonexistent"

    @Test(.enabled(if: SnapshotDriver.backend != nil, "started by SnapshotTests"))
    func drive() async throws {
        if Self.scenario == "outside" { return try await outside() }
        try UserNamespace.enterIfNeeded(privateMountsForRoot: true)
        // From here on: the re-executed process, root in its own mount namespace.
        print("STATE \(UserNamespace.state) private=\(UserNamespace.privateMountsByShim) shim=\(UserNamespace.enteredByShim)")
        #expect(UserNamespace.privateMountsByShim || UserNamespace.enteredByShim)
        let backend = try #require(Self.backend)
        switch Self.scenario {
        case "all":
            try await SnapshotScenarios(backend: backend, workdir: Self.workdir).runAll()
        case "no-fuse":
            // /dev/fuse is closed to us: forcing fuse-overlayfs is a clear one-line error, auto passes over it.
            let root = Self.workdir + "/state/snapshots"
            do {
                _ = try SnapshotStore.select(.fuseOverlayfs, root: root, log: { _ in })
                Issue.record("fuse-overlayfs was selected without /dev/fuse")
            } catch {
                #expect(error.code == .unavailable)
                #expect(error.description.contains("/dev/fuse"), "\(error)")
                print("FORCED_ERROR \(error)")
            }
            let reason = try SnapshotStore.unavailability(of: .fuseOverlayfs, root: root)
            #expect(reason?.contains("chmod 0666 /dev/fuse") == true)
            #expect(entries(root + "/tmp").isEmpty)
        case "race":
            // Another process prepares the same chain at the same time (started together by SnapshotTests).
            // Not the pid: both drivers may be pid 2 of PID namespaces of their own.
            let layers = try LayerFactory(directory: Self.workdir + "/layers-" + String(UInt64.random(in: 0...UInt64.max), radix: 16))
            let chain = try (1...8).map { i in
                try layers.layer(reproducible: true) { t in try write(t + "/r\(i)", String(repeating: "\(i)", count: 200_000)) }
            }
            let store = try SnapshotStore(root: Self.workdir + "/state/snapshots", backend: backend)
            let snapshot = try await store.prepare(chain)
            #expect(await store.exists(snapshot.chainID!))
            let workspace = try await store.workspace(on: snapshot)
            #expect(entries(workspace.rootfs) == (1...8).map { "r\($0)" })
            #expect(read(workspace.rootfs + "/r8") == String(repeating: "8", count: 200_000))
            await store.release(workspace)
            print("CHAIN \(snapshot.chainID!)")
        default:
            Issue.record("unknown scenario \(Self.scenario)")
        }
        fflush(nil)
    }

    /// An ordinary user without a subordinate range stays outside any namespace: `auto` says why each
    /// overlay backend is passed over and picks native, which works unprivileged (owners are the user's).
    func outside() async throws {
        #expect(UserNamespace.state == .outside)
        let root = Self.workdir + "/state/snapshots"
        let lines = LogLines()
        #expect(try SnapshotStore.select(.auto, root: root, log: lines.append) == .native)
        #expect(lines.all == [
            "snapshotter: overlayfs unavailable: not root (img's user namespace was not entered)",
            "snapshotter: fuse-overlayfs unavailable: not root (img's user namespace was not entered)",
            "snapshotter: native (auto)",
        ])
        let layers = try LayerFactory(directory: Self.workdir + "/layers")
        let one = try layers.layer { t in try write(t + "/etc/hello", "one\n") }
        let store = try SnapshotStore(root: root, backend: .native)
        let snapshot = try await store.prepare([one])
        let workspace = try await store.workspace(on: snapshot)
        #expect(read(workspace.rootfs + "/etc/hello") == "one\n")
        try write(workspace.rootfs + "/etc/new", "n")
        let sink = MemorySink()
        _ = try await store.diff(workspace, to: sink, options: LayerWriteOptions())
        #expect(try EntrySummary.read(sink.bytes).map(\.path) == ["etc", "etc/new"])
        await store.release(workspace)
        #expect(entries(root + "/tmp").isEmpty)
    }
}
