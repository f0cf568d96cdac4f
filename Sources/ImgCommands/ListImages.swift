import ArgumentParser
import Foundation

/// `img ls`: the images in the store.
struct ListImages: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List images and digests.", aliases: ["images"])

    @OptionGroup var global: GlobalOptions
    @ParentCommand var root: ImgCommand

    @OptionGroup var filter: ImageFilterFlags

    func run() async throws {
        let options = root.global.merged(with: global)
        try await reportingErrors {
            let filters = try filter.parsed()
            let state = try options.openState()
            let records = try await ImageFilterFlags.images(passing: filters, in: state)
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
