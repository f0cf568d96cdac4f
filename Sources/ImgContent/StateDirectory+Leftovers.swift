import Glibc
import ImgSystem

/// What a sweep removed of killed commands.
package struct LeftoverReport: Sendable, Hashable {
    package var entries: Int = 0
    package var bytes: Int64 = 0

    package init(entries: Int = 0, bytes: Int64 = 0) {
        self.entries = entries
        self.bytes = bytes
    }

    package static func + (a: Self, b: Self) -> Self { Self(entries: a.entries + b.entries, bytes: a.bytes + b.bytes) }
}

extension StateDirectory {
    /// Removes what killed commands left: their scratch directories and RUN bundles (named by their owner's
    /// token, `ProcessOwners`), and layer ingests (`content/ingest/tmp-*`, never resumed) that no writer
    /// holds locked. Entries of running processes are never touched: each holds its owner record, and each
    /// ingest it writes, locked. The dead owner's record goes once nothing of it is left anywhere; work
    /// directories under `snapshots/tmp` and runc's containers are the snapshot store's and the runtime's
    /// to remove (they need img's namespace, runc), so until they have, the record stays.
    ///
    /// Costs two directory listings when nothing was killed. Runs when a state directory is opened.
    static func removeLeftovers(_ layout: StateLayout) -> LeftoverReport {
        var report = LeftoverReport()
        let dead = ProcessOwners.dead(in: layout.ownersDirectory)
        if !dead.isEmpty {
            let tokens = Set(dead.map(\.token))
            for directory in [layout.temporaryDirectory, layout.bundlesDirectory] {
                report = report + removeEntries(in: directory) { ProcessOwners.isLeftover($0, of: tokens) }
            }
            var remaining = Set<String>()
            for directory in [layout.temporaryDirectory, layout.bundlesDirectory, layout.snapshotsDirectory + "/tmp",
                              layout.runcDirectory] {
                for name in (try? DirectoryEntries.names(in: AT_FDCWD, directory)) ?? [] {
                    if let owner = ProcessOwners.token(inName: name) { remaining.insert(String(owner)) }
                }
            }
            for owner in dead { owner.release(forget: !remaining.contains(owner.token)) }
        }
        report = report + removeUnheldIngests(layout) { $0.hasPrefix("tmp-") }
        return report
    }

    /// `removeLeftovers` once more (after `prune` removed snapshot work directories and runc containers).
    package func removeLeftovers() -> LeftoverReport { Self.removeLeftovers(layout) }

    /// Partial downloads (`content/ingest/sha256-*`) nobody is writing, however recent: `prune --all`
    /// gives up resuming them.
    package func removeAbandonedDownloads() -> LeftoverReport {
        Self.removeUnheldIngests(layout) { !$0.hasPrefix("tmp-") }
    }

    /// `rm -rf` of the entries of `directory` that `select` picks.
    private static func removeEntries(in directory: String, where select: (String) -> Bool) -> LeftoverReport {
        var report = LeftoverReport()
        let parent = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parent >= 0 else { return report }
        defer { close(parent) }
        for name in (try? DirectoryEntries.names(in: parent)) ?? [] where select(name) {
            let bytes = DirectoryEntries.allocatedBytes(directory + "/" + name)
            guard (try? DirectoryEntries.removeTree(in: parent, name)) != nil else { continue }
            report.entries += 1
            report.bytes += bytes
        }
        return report
    }

    /// Ingest files `select` picks that no writer holds locked (a writer keeps its file locked from creation
    /// to commit; one that loses its file in the instant between the two starts again).
    private static func removeUnheldIngests(_ layout: StateLayout, where select: (String) -> Bool) -> LeftoverReport {
        var report = LeftoverReport()
        let directory = layout.ingestDirectory
        for name in (try? DirectoryEntries.names(in: AT_FDCWD, directory)) ?? [] where select(name) {
            let path = directory + "/" + name
            guard case .locked(let file)? = try? SystemFile.tryLocking(path: path, flags: O_RDWR, exclusive: true)
            else { continue }
            let size = (try? file.status())?.size ?? 0
            // Unlinked while locked, so a writer that waits for this name retries on a fresh file.
            if (try? FileSystem.removeFile(path: path)) != nil {
                report.entries += 1
                report.bytes += size
            }
            file.unlock()
        }
        return report
    }
}
