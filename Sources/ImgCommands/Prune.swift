import ArgumentParser
import Foundation
import Img
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
            let report = try await options.engine(log: log).prune(all: all, dryRun: dryRun)
            for digest in report.removedBlobs { print("\(dryRun ? "Would remove" : "Deleted"): \(digest)") }
            let verb = dryRun ? "would be freed" : "freed"
            if let freed = report.snapshotsFreed {
                if freed > 0 { print("Snapshots\(all ? " and cache mounts" : ""): \(HumanFormat.size(freed)) \(verb)") }
            } else {
                print("Snapshots\(all ? " and cache mounts" : "") kept: a build is running")
            }
            if all { print("Build cache records: \(report.records) \(dryRun ? "would be removed" : "removed")") }
            if report.leftovers.entries > 0 {
                print("Removed leftovers of killed commands: \(report.leftovers.entries) (\(HumanFormat.size(report.leftovers.bytes)))")
            }
            print("Total reclaimed space: \(HumanFormat.size(report.reclaimedBytes))")
        }
    }
}
