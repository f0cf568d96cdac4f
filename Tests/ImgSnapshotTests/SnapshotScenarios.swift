import Foundation
import Glibc
import ImgArchive
import ImgOCI
import ImgSnapshot
import ImgSystem
import Testing
import ImgTestSupport

/// What every backend must do, run by `SnapshotDriver` as root in a private mount namespace or as root in
/// img's user namespace. `workdir` holds `state/` (the store) and `sentinel/` (must stay empty).
struct SnapshotScenarios {
    let backend: SnapshotBackend
    let workdir: String
    var root: String { workdir + "/state/snapshots" }
    var sentinel: String { workdir + "/sentinel" }
    let layers: LayerFactory

    init(backend: SnapshotBackend, workdir: String) throws {
        self.backend = backend
        self.workdir = workdir
        layers = try LayerFactory(directory: workdir + "/layers")
        try FileManager.default.createDirectory(atPath: workdir + "/sentinel", withIntermediateDirectories: true)
    }

    func runAll() async throws {
        try await selection()
        try abandonedWorkDirectoriesGo()
        let base = try await preparedChainHasTheMergedView()
        let committed = try await workspaceDiffCommitAndNext(on: base)
        try await volatileWorkspacesAndUnsyncedSnapshots()
        try await concurrentPreparesOfOneChain()
        try await mismatchedDiffIDKeepsNothing()
        try await hostileLayersStayContained()
        try await aStackOfSixtyLayersMounts()
        try await pruneKeepsWhatItIsTold(committed)
        expectNothingLeft()
    }

    func store() throws -> SnapshotStore { try SnapshotStore(root: root, backend: backend) }

    func temporaryEntries() -> [String] { entries(root + "/tmp") }

    // MARK: -

    func selection() async throws {
        let lines = LogLines()
        let chosen = try SnapshotStore.select(backend == .native ? .native : backend == .overlayfs ? .overlayfs : .fuseOverlayfs,
                                              root: root, log: lines.append)
        #expect(chosen == backend)
        #expect(lines.all == ["snapshotter: \(backend.rawValue) (forced)"])
        let auto = LogLines()
        #expect(try SnapshotStore.select(.auto, root: root, log: auto.append) == .overlayfs)
        #expect(auto.all == ["snapshotter: overlayfs (auto)"])
        // The answer is remembered for this kernel and user: no second probe.
        let again = LogLines()
        #expect(try SnapshotStore.select(.auto, root: root, log: again.append) == .overlayfs)
        #expect(again.all == ["snapshotter: overlayfs (auto, probed before on this kernel)"])
        #expect(temporaryEntries().isEmpty, "the probes left \(temporaryEntries())")
    }

    /// A work directory of a process that is gone (killed mid-build: its owner record in `<state>/owners`
    /// is unlocked) is removed when a store opens; one of a live process (record locked) stays.
    func abandonedWorkDirectoriesGo() throws {
        let owners = workdir + "/state/owners"
        let ended = "00000000000dead0", running = "00000000000a11e0"
        try write(owners + "/" + ended, "")
        try write(owners + "/" + running, "")
        let held = open(owners + "/" + running, O_RDWR | O_CLOEXEC)
        #expect(held >= 0 && flock(held, LOCK_EX) == 0)
        defer { close(held) }
        let abandoned = "\(root)/tmp/ws-\(ended)-abcdef", live = "\(root)/tmp/ws-\(running)-abcdef"
        try write(abandoned + "/upper/file", "x")
        try write(live + "/upper/file", "x")
        _ = try store()
        #expect(!exists(abandoned))
        #expect(exists(live))
        removeTree(live)
        for token in [ended, running] { unlink(owners + "/" + token) }
    }

    /// Layer 1: files, dirs, symlink, hardlink, setuid, owners 0/1/1000. Layer 2: a changed file, a
    /// whiteout and an opaque directory.
    func preparedChainHasTheMergedView() async throws -> Snapshot {
        let one = try layers.layer { t in
            try write(t + "/etc/hello", "one\n")
            try write(t + "/bin/tool", "#!/bin/sh\n", mode: 0o755)
            chmod(t + "/bin/tool", 0o4755)
            link(t + "/bin/tool", t + "/bin/tool2")
            try write(t + "/home/app/own", "mine")
            chown(t + "/home/app/own", 1000, 1000)
            chown(t + "/home/app", 1000, 1000)
            try write(t + "/srv/one", "1")
            chown(t + "/srv/one", 1, 1)
            symlink("etc/hello", t + "/link")
            try write(t + "/gone/file", "x")
            try write(t + "/opq/old1", "o")
            try write(t + "/opq/sub/old2", "o")
            try write(t + "/keep/a", "a")
            try write(t + "/mv/inner/file", "m")
        }
        let two = try layers.layer { t in
            try write(t + "/etc/hello", "two\n")
            try write(t + "/.wh.gone", "")
            try write(t + "/opq/.wh..wh..opq", "")
            try write(t + "/opq/new", "n")
            try write(t + "/keep/b", "b")
        }
        let store = try store()
        let snapshot = try await store.prepare([one, two])
        #expect(snapshot.diffIDs == [one.diffID, two.diffID])
        #expect(snapshot.chainID == ChainID.of([one.diffID, two.diffID]))
        #expect(await store.exists(snapshot.chainID!))
        // Preparing again applies nothing and gives the same snapshot.
        #expect(try await store.prepare([one, two]) == snapshot)
        #expect(try await store.prepare([one]) == Snapshot(diffIDs: [one.diffID]))

        let workspace = try await store.workspace(on: snapshot)
        let r = workspace.rootfs
        #expect(read(r + "/etc/hello") == "two\n")
        #expect(!exists(r + "/gone"))
        #expect(entries(r + "/opq") == ["new"])
        #expect(entries(r + "/keep") == ["a", "b"])
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: r + "/link")) == "etc/hello")
        let tool = lstatus(r + "/bin/tool"), tool2 = lstatus(r + "/bin/tool2")
        #expect(tool.map { $0.st_mode & 0o7777 } == 0o4755)
        #expect(tool != nil && tool?.st_ino == tool2?.st_ino && tool?.st_nlink == 2)
        #expect(lstatus(r + "/home/app/own").map { "\($0.st_uid):\($0.st_gid)" } == "1000:1000")
        #expect(lstatus(r + "/srv/one").map { "\($0.st_uid):\($0.st_gid)" } == "1:1")
        #expect(lstatus(r + "/etc/hello").map { "\($0.st_uid):\($0.st_gid)" } == "0:0")
        #expect(entries(r).filter { $0.hasPrefix(".wh.") }.isEmpty)
        await store.release(workspace)
        await store.release(workspace)  // twice is harmless
        #expect(!exists(workspace.directory))
        #expect(mounts(under: root).isEmpty)
        return snapshot
    }

    func workspaceDiffCommitAndNext(on parent: Snapshot) async throws -> Snapshot {
        let store = try store()
        let workspace = try await store.workspace(on: parent)
        let r = workspace.rootfs
        try write(r + "/new.txt", "new\n")
        try write(r + "/etc/hello", "three\n")
        #expect(unlink(r + "/keep/a") == 0)
        #expect(rename(r + "/srv/one", r + "/srv/uno") == 0)
        // A lower directory: overlayfs refuses rename(2) with EXDEV (no redirects), so it is copied and
        // removed, as mv does.
        #expect(rename(r + "/mv", r + "/moved") == 0 || errno == EXDEV)
        if exists(r + "/mv") {
            try FileManager.default.copyItem(atPath: r + "/mv", toPath: r + "/moved")
            try FileManager.default.removeItem(atPath: r + "/mv")
        }
        try FileManager.default.removeItem(atPath: r + "/home/app")
        try FileManager.default.removeItem(atPath: r + "/opq")
        try write(r + "/opq/fresh", "f")
        try write(r + "/data/x/f", "data")
        #expect(chown(r + "/data/x/f", 1000, 1000) == 0)
        try write(r + "/data/suid", "s", mode: 0o755)
        #expect(chmod(r + "/data/suid", 0o4755) == 0)

        let sink = MemorySink()
        let digests = try await store.diff(workspace, to: sink, options: LayerWriteOptions(sourceDateEpoch: 1_700_000_000))
        #expect(digests.compression == .gzip && digests.size == Int64(sink.bytes.count))
        let tar = try EntrySummary.read(sink.bytes)
        let opq: [String] = backend == .native ? ["opq directory 755 0:0", "opq/.wh.new regular 644 0:0 \"\"", "opq/fresh regular 644 0:0 \"f\""]
            : ["opq directory 755 0:0", "opq/.wh..wh..opq regular 644 0:0 \"\"", "opq/fresh regular 644 0:0 \"f\""]
        // Byte order: ".wh.mv" (the deleted lower directory) before everything else at the top.
        let expected = [
            ".wh.mv regular 644 0:0 \"\"",
            "data directory 755 0:0", "data/suid regular 4755 0:0 \"s\"", "data/x directory 755 0:0",
            "data/x/f regular 644 1000:1000 \"data\"",
            "etc directory 755 0:0", "etc/hello regular 644 0:0 \"three\n\"",
            "home directory 755 0:0", "home/.wh.app regular 644 0:0 \"\"",
            "keep directory 755 0:0", "keep/.wh.a regular 644 0:0 \"\"",
            "moved directory 755 0:0", "moved/inner directory 755 0:0", "moved/inner/file regular 644 0:0 \"m\"",
            "new.txt regular 644 0:0 \"new\n\"",
        ] + opq + [
            "srv directory 755 0:0", "srv/.wh.one regular 644 0:0 \"\"", "srv/uno regular 644 1:1 \"1\"",
        ]
        #expect(tar.map(\.description) == expected)
        // The same workspace diffs to the same bytes.
        let again = MemorySink()
        #expect(try await store.diff(workspace, to: again, options: LayerWriteOptions(sourceDateEpoch: 1_700_000_000)) == digests)

        let committed = try await store.commit(workspace, diffID: digests.diffID)
        #expect(committed.diffIDs == parent.diffIDs + [digests.diffID])
        #expect(await store.exists(committed.chainID!))
        #expect(!exists(workspace.directory))

        let next = try await store.workspace(on: committed)
        let n = next.rootfs
        #expect(read(n + "/new.txt") == "new\n")
        #expect(read(n + "/etc/hello") == "three\n")
        #expect(entries(n + "/keep") == ["b"])
        #expect(entries(n + "/srv") == ["uno"])
        #expect(!exists(n + "/mv") && read(n + "/moved/inner/file") == "m")
        #expect(entries(n + "/home").isEmpty)
        #expect(entries(n + "/opq") == ["fresh"])
        #expect(lstatus(n + "/data/x/f").map { "\($0.st_uid):\($0.st_gid)" } == "1000:1000")
        #expect(lstatus(n + "/data/suid").map { $0.st_mode & 0o7777 } == 0o4755)
        #expect(entries(n).filter { $0.hasPrefix(".wh.") }.isEmpty)
        // Nothing changed: an empty diff.
        let empty = MemorySink()
        _ = try await store.diff(next, to: empty, options: LayerWriteOptions())
        #expect(try EntrySummary.read(empty.bytes).isEmpty)
        await store.release(next)
        #expect(!exists(next.directory))
        // Committing a chain that exists only releases.
        let duplicate = try await store.workspace(on: parent)
        #expect(try await store.commit(duplicate, diffID: digests.diffID) == committed)
        #expect(!exists(duplicate.directory))
        #expect(mounts(under: root).isEmpty)

        // The empty snapshot: a workspace on nothing.
        let scratch = try await store.workspace(on: .empty)
        try write(scratch.rootfs + "/only", "x")
        let fromScratch = MemorySink()
        _ = try await store.diff(scratch, to: fromScratch, options: LayerWriteOptions())
        #expect(try EntrySummary.read(fromScratch.bytes).map(\.path) == ["only"])
        await store.release(scratch)
        return committed
    }

    /// Kernel overlay workspaces are mounted `volatile` (no syncfs at unmount); what they commit is marked
    /// unsynced with this boot's id, and a store opened after another boot drops such a snapshot (its files
    /// may never have reached the disk). Marks of this boot go once the writeback grace has passed.
    func volatileWorkspacesAndUnsyncedSnapshots() async throws {
        let store = try store()
        let workspace = try await store.workspace(on: .empty)
        let mountLine = (try SmallTextFile.read("/proc/self/mountinfo") ?? "").split(separator: "\n")
            .first { $0.split(separator: " ").count > 4 && $0.split(separator: " ")[4] == workspace.rootfs }
        try write(workspace.rootfs + "/volatile-test", "v")
        let digests = try await store.diff(workspace, to: MemorySink(), options: LayerWriteOptions())
        let snapshot = try await store.commit(workspace, diffID: digests.diffID)
        let chainID = try #require(snapshot.chainID)
        let marker = root + "/unsynced/\(chainID.hex).\(SnapshotStore.bootID)"
        guard backend == .overlayfs else {
            #expect(!exists(marker))
            #expect(mountLine.map { !$0.contains("volatile") } ?? true)
            return
        }
        #expect(mountLine?.contains("volatile") == true, "\(mountLine ?? "no mount line")")
        #expect(exists(marker))
        // Still this boot, recently: the next store keeps both.
        _ = try self.store()
        var kept = await store.exists(chainID)
        #expect(exists(marker) && kept)
        // Still this boot, long ago: the mark goes, the snapshot stays.
        var old = [timespec(tv_sec: 1_000_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, marker, &old, 0) == 0)
        _ = try self.store()
        kept = await store.exists(chainID)
        #expect(!exists(marker) && kept)
        // Marked by another boot: the snapshot is dropped (and made again from its blob when needed).
        let otherBoot = root + "/unsynced/\(chainID.hex).00000000000000000000000000000000"
        #expect(close(open(otherBoot, O_WRONLY | O_CREAT, 0o600)) == 0)
        _ = try self.store()
        #expect(!exists(otherBoot))
        kept = await store.exists(chainID)
        #expect(!kept)
        #expect(!exists(root + "/overlay/\(chainID.hex)"))
    }

    func concurrentPreparesOfOneChain() async throws {
        let chain = try (1...3).map { i in try layers.layer { t in try write(t + "/c\(i)", String(repeating: "\(i)", count: 5000)) } }
        // Two stores over one root stand for two img processes; each prepares twice at once.
        let a = try store(), b = try store()
        async let first = a.prepare(chain)
        async let second = b.prepare(chain)
        async let third = a.prepare(chain)
        async let fourth = b.prepare(Array(chain.prefix(2)))
        let results = try await [first, second, third]
        _ = try await fourth
        #expect(Set(results).count == 1)
        #expect(await a.exists(results[0].chainID!))
        #expect(temporaryEntries().isEmpty, "left \(temporaryEntries())")
        let workspace = try await a.workspace(on: results[0])
        #expect(entries(workspace.rootfs) == ["c1", "c2", "c3"])
        await a.release(workspace)
    }

    func mismatchedDiffIDKeepsNothing() async throws {
        let good = try layers.layer { t in try write(t + "/good", "g") }
        var bad = try layers.layer { t in try write(t + "/bad", "b") }
        bad.diffID = good.diffID == bad.diffID ? bad.diffID : Digest.sha256(of: Array("not this".utf8))
        let store = try store()
        await #expect(throws: SnapshotError.self) { try await store.prepare([good, bad]) }
        do { _ = try await store.prepare([good, bad]) } catch {
            #expect(error.code == .digestMismatch, "\(error)")
            #expect(!error.description.contains("\n"))
        }
        #expect(!(await store.exists(good.diffID)))
        #expect(!(await store.exists(ChainID.of([good.diffID, bad.diffID])!)))
        #expect(temporaryEntries().isEmpty)
    }

    func hostileLayersStayContained() async throws {
        let store = try store()
        let cases: [(String, [(TarEntry, String?)])] = [
            ("dot-dot", [(TarEntry(path: "../../sentinel/x", kind: .regular), "pwned")]),
            ("absolute", [(TarEntry(path: sentinel + "/abs", kind: .regular), "inside")]),
            ("symlink out", [(TarEntry(path: "out", kind: .symlink, linkTarget: sentinel), nil),
                             (TarEntry(path: "out/x", kind: .regular), "pwned")]),
            ("relative symlink out", [(TarEntry(path: "up", kind: .symlink, linkTarget: "../../../../../../../../.." + sentinel), nil),
                                      (TarEntry(path: "up/y", kind: .regular), "pwned")]),
            ("hardlink out", [(TarEntry(path: "pw", kind: .hardlink, linkTarget: "../../../../sentinel/z"), nil)]),
            ("hardlink to host file", [(TarEntry(path: "pw", kind: .hardlink, linkTarget: "/etc/passwd"), nil)]),
        ]
        for (name, tarEntries) in cases {
            let blob = try layers.raw(tarEntries)
            do {
                let snapshot = try await store.prepare([blob])
                // Accepted: then everything landed inside the snapshot.
                let workspace = try await store.workspace(on: snapshot)
                #expect(!entries(workspace.rootfs).isEmpty, "\(name)")
                await store.release(workspace)
            } catch {
                #expect(error.code == .layer, "\(name): \(error)")
            }
            #expect(entries(sentinel).isEmpty, "\(name) wrote outside: \(entries(sentinel))")
            #expect(temporaryEntries().isEmpty, "\(name) left \(temporaryEntries())")
        }
        #expect(entries(workdir).sorted() == ["layers", "sentinel", "state"])
    }

    func aStackOfSixtyLayersMounts() async throws {
        let stack = try (0..<60).map { i in try layers.layer { t in try write(t + "/stack/f\(i)", "\(i)") } }
        let store = try store()
        let snapshot = try await store.prepare(stack)
        let workspace = try await store.workspace(on: snapshot)
        #expect(entries(workspace.rootfs + "/stack").count == 60)
        #expect(read(workspace.rootfs + "/stack/f0") == "0" && read(workspace.rootfs + "/stack/f59") == "59")
        await store.release(workspace)
    }

    func pruneKeepsWhatItIsTold(_ keep: Snapshot) async throws {
        let store = try store()
        let freed = try await store.prune(keeping: [keep.chainID!])
        #expect(freed > 0)
        #expect(await store.exists(keep.chainID!))
        let workspace = try await store.workspace(on: keep)
        #expect(read(workspace.rootfs + "/etc/hello") == "three\n")
        await store.release(workspace)
        let format = backend == .native ? "native" : "overlay"
        let left = entries("\(root)/\(format)").count
        #expect(left == (backend == .native ? 1 : keep.diffIDs.count))
    }

    func expectNothingLeft() {
        #expect(mounts(under: workdir).isEmpty, "mounts left: \(mounts(under: workdir))")
        #expect(fuseOverlayProcesses(under: workdir).isEmpty, "fuse-overlayfs left running")
        #expect(temporaryEntries().isEmpty, "temp dirs left: \(temporaryEntries())")
        #expect(entries(sentinel).isEmpty)
    }
}

/// Collects log lines from any thread.
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}
