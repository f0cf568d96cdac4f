import ArgumentParser
import Foundation
import ImgContent

/// `img prune`: remove every blob no image, cache record or running operation still needs.
struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove unreferenced content and print what was reclaimed.")

    @OptionGroup var global: GlobalOptions
    @ParentCommand var root: ImgCommand

    @Flag(help: "Only report what would be removed.")
    var dryRun = false

    func run() async throws {
        let options = root.global.merged(with: global)
        try await reportingErrors {
            let state = try options.openState()
            let report = try await state.collectGarbage(GCOptions(dryRun: dryRun))
            if !dryRun { removeStaleWorkDirectories(state) }
            for digest in report.removedBlobs { print("\(dryRun ? "Would remove" : "Deleted"): \(digest)") }
            print("Total reclaimed space: \(HumanFormat.size(report.reclaimedBytes))")
        }
    }
}

/// Work directories of `save`/`load` left by a killed process; an hour old means no live command owns them.
func removeStaleWorkDirectories(_ state: StateDirectory, olderThan age: TimeInterval = 3600) {
    let base = state.layout.root + "/tmp"
    let fm = FileManager.default
    for name in (try? fm.contentsOfDirectory(atPath: base)) ?? [] {
        let path = base + "/" + name
        if let modified = (try? fm.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
           Date().timeIntervalSince(modified) > age {
            try? fm.removeItem(atPath: path)
        }
    }
}
