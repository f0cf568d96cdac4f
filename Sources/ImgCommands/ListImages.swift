import ArgumentParser
import Foundation
import ImgContent

/// `img ls`: the images in the store.
struct ListImages: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List images and digests.", aliases: ["images"])

    @OptionGroup var global: GlobalOptions
    @ParentCommand var root: ImgCommand

    @Option(name: [.short, .customLong("filter")], help: ArgumentHelp("Filter: reference=PATTERN or digest=DIGEST (repeatable).", valueName: "filter"))
    var filters: [String] = []

    func run() async throws {
        let options = root.global.merged(with: global)
        try await reportingErrors {
            let filters = try ImageFilterOption.parse(self.filters)
            let state = try options.openState()
            let records = try await ImageFilterOption.apply(filters, state: state)
            var rows = [["NAME", "SIZE", "CREATED AT", "UPDATED AT", "DIGEST"]]
            let now = Date()
            for record in records {
                let size = (try? state.size(of: record.descriptor)).map(HumanFormat.size) ?? "-"
                rows.append([record.name.familiar, size, HumanFormat.age(since: record.created, now: now),
                             HumanFormat.age(since: record.updated, now: now), record.descriptor.digest.description])
            }
            print(HumanFormat.table(rows), terminator: "")
        }
    }
}
