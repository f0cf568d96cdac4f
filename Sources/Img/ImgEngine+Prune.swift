import Foundation
import Glibc
package import ImgContent
import ImgExport
package import ImgOCI
import ImgRuntime
import ImgSnapshot
import ImgSystem

/// What a prune removed (or, with `dryRun`, would remove).
package struct PruneReport: Sendable {
    package var removedBlobs: [Digest] = []
    /// Snapshots (and with `all` cache mounts and the checksum cache) freed; nil when a build holds the
    /// snapshot store open and they were kept.
    package var snapshotsFreed: Int64?
    /// Build cache records removed (`all`).
    package var records = 0
    /// What killed commands had left.
    package var leftovers = LeftoverReport()
    /// Everything together.
    package var reclaimedBytes: Int64 = 0
}

extension ImgEngine {
    /// Removes every blob no image, cache record or running operation needs, the snapshots when no build is
    /// running, what killed commands left, and with `all` the build cache itself (records, RUN cache
    /// mounts, remembered context checksums), as `docker builder prune -a` does. Run it inside img's user
    /// namespace when there is one: snapshots hold files of subordinate ids.
    package func prune(all: Bool, dryRun: Bool) async throws -> PruneReport {
        let state = try self.state()
        var report = PruneReport()
        if all {
            report.records = dryRun ? try await state.cache.list().count : try await state.cache.prune(unusedSince: .distantFuture)
        }
        let collected = try await state.collectGarbage(GCOptions(dryRun: dryRun))
        report.removedBlobs = collected.removedBlobs
        if !dryRun { Self.removeStaleWorkDirectories(state) }
        // What killed commands left: opening the state removed their scratch files and layer ingests;
        // runc deletes their containers; --all also gives up partial downloads nobody is resuming.
        var leftovers = state.leftoversRemovedAtOpen
        if all && !dryRun { leftovers = leftovers + state.removeAbandonedDownloads() }
        if let runc = ExecutableLookup.find("runc") {
            let removed = RuncExecutor.removeAbandoned(runtimePath: runc, stateDirectory: layout.root)
            leftovers = leftovers + LeftoverReport(entries: removed.entries, bytes: removed.bytes)
        }
        var reclaimed = collected.reclaimedBytes
        // Snapshots and cache mounts only while no build has its snapshot store open.
        let layout = self.layout
        report.snapshotsFreed = try SnapshotStore.whileUnused(root: layout.snapshotsDirectory) { () -> Int64 in
            var bytes = SnapshotStore.removeAll(root: layout.snapshotsDirectory, dryRun: dryRun)
            if all { bytes += Self.removeBuildCacheFiles(layout, dryRun: dryRun) }
            return bytes
        }
        reclaimed += report.snapshotsFreed ?? 0
        // Records of killed commands whose leftovers are all gone now (snapshot work directories too).
        leftovers = leftovers + state.removeLeftovers()
        report.leftovers = leftovers
        reclaimed += leftovers.bytes
        report.reclaimedBytes = reclaimed
        return report
    }

    /// RUN cache mounts, miss explanations and the context checksum cache.
    private static func removeBuildCacheFiles(_ layout: StateLayout, dryRun: Bool) -> Int64 {
        var bytes: Int64 = 0
        let parent = open(layout.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parent >= 0 else { return 0 }
        defer { close(parent) }
        for name in layout.buildCacheEntries {
            let path = layout.root + "/" + name
            guard access(path, F_OK) == 0 else { continue }
            bytes += DirectoryEntries.allocatedBytes(path)
            if !dryRun { try? DirectoryEntries.removeTree(in: parent, name) }
        }
        return bytes
    }

    /// Work directories of `save`/`load` left by a killed process; an hour old means no live command owns them.
    static func removeStaleWorkDirectories(_ state: StateDirectory, olderThan age: TimeInterval = 3600) {
        let base = state.layout.temporaryDirectory
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: base)) ?? [] {
            let path = base + "/" + name
            if let modified = (try? fm.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
               Date().timeIntervalSince(modified) > age {
                try? fm.removeItem(atPath: path)
            }
        }
    }
}
