import ArgumentParser
import Foundation
import ImgContent
import ImgRuntime
import ImgSnapshot
import ImgSystem

/// `img prune`: remove every blob no image, cache record or running operation still needs, and the
/// snapshots (unpacked layers, re-made from their blobs when a build needs them) when no build is running.
/// `--all` also drops the build cache itself, as `docker builder prune -a` does.
struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune", abstract: "Remove unreferenced content and unpacked snapshots, and print what was reclaimed.")

    @OptionGroup var global: GlobalOptions
    @ParentCommand var root: ImgCommand

    @Flag(help: "Only report what would be removed.")
    var dryRun = false

    @Flag(name: [.short, .long], help: "Also remove the build cache: cache records (the next build runs every step), RUN cache mounts and remembered context checksums.")
    var all = false

    func run() async throws {
        let options = root.global.merged(with: global)
        let log = CommandLog(debug: options.debug)
        try await reportingErrors {
            // Snapshots and cache mounts made in img's user namespace hold files of subordinate ids: only
            // inside it can they be removed. Without a range they were made as the user, who can.
            do { try UserNamespace.enterIfNeeded() } catch {
                log.debug("not entering a user namespace (\(error)); removing as the caller")
            }
            let state = try options.openState()
            let root = state.layout.root
            var records = 0
            if all {
                records = dryRun ? try await state.cache.list().count : try await state.cache.prune(unusedSince: .distantFuture)
            }
            let report = try await state.collectGarbage(GCOptions(dryRun: dryRun))
            if !dryRun { removeStaleWorkDirectories(state) }
            // What killed commands left: opening the state removed their scratch files and layer ingests;
            // runc deletes their containers; --all also gives up partial downloads nobody is resuming.
            var leftovers = state.leftoversRemovedAtOpen
            if all && !dryRun { leftovers = leftovers + state.removeAbandonedDownloads() }
            if let runc = ExecutableLookup.find("runc") {
                let removed = RuncExecutor.removeAbandoned(runtimePath: runc, stateDirectory: root)
                leftovers = leftovers + LeftoverReport(entries: removed.entries, bytes: removed.bytes)
            }
            for digest in report.removedBlobs { print("\(dryRun ? "Would remove" : "Deleted"): \(digest)") }
            var reclaimed = report.reclaimedBytes
            // Snapshots and cache mounts only while no build has its snapshot store open.
            let freed = try SnapshotStore.whileUnused(root: state.layout.snapshotsDirectory) { () -> Int64 in
                var bytes = SnapshotStore.removeAll(root: state.layout.snapshotsDirectory, dryRun: dryRun)
                if all { bytes += removeBuildCacheFiles(state.layout, dryRun: dryRun) }
                return bytes
            }
            let verb = dryRun ? "would be freed" : "freed"
            if let freed {
                if freed > 0 { print("Snapshots\(all ? " and cache mounts" : ""): \(HumanFormat.size(freed)) \(verb)") }
                reclaimed += freed
            } else {
                print("Snapshots\(all ? " and cache mounts" : "") kept: a build is running")
            }
            if all { print("Build cache records: \(records) \(dryRun ? "would be removed" : "removed")") }
            // Records of killed commands whose leftovers are all gone now (snapshot work directories too).
            leftovers = leftovers + state.removeLeftovers()
            if leftovers.entries > 0 {
                print("Removed leftovers of killed commands: \(leftovers.entries) (\(HumanFormat.size(leftovers.bytes)))")
                reclaimed += leftovers.bytes
            }
            print("Total reclaimed space: \(HumanFormat.size(reclaimed))")
        }
    }

    /// RUN cache mounts, miss explanations and the context checksum cache.
    private func removeBuildCacheFiles(_ layout: StateLayout, dryRun: Bool) -> Int64 {
        let root = layout.root
        var bytes: Int64 = 0
        let parent = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parent >= 0 else { return 0 }
        defer { close(parent) }
        for name in layout.buildCacheEntries {
            let path = root + "/" + name
            guard access(path, F_OK) == 0 else { continue }
            bytes += DirectoryEntries.allocatedBytes(path)
            if !dryRun { try? DirectoryEntries.removeTree(in: parent, name) }
        }
        return bytes
    }
}

/// Work directories of `save`/`load` left by a killed process; an hour old means no live command owns them.
func removeStaleWorkDirectories(_ state: StateDirectory, olderThan age: TimeInterval = 3600) {
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
