import ArgumentParser
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
            for digest in report.removedBlobs { print("\(dryRun ? "Would remove" : "Deleted"): \(digest)") }
            print("Total reclaimed space: \(HumanFormat.size(report.reclaimedBytes))")
        }
    }
}
