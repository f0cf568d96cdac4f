import ArgumentParser

/// `img du`: disk usage of the store, per image and in total.
struct DiskUsageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "du", abstract: "Show image disk usage.")

    @OptionGroup var global: GlobalOptions
    @ParentCommand var root: ImgCommand

    @OptionGroup var filter: ImageFilterFlags

    func run() async throws {
        let options = root.global.merged(with: global)
        try await reportingErrors {
            let filters = try filter.parsed()
            let state = try options.openState()
            let usage = try await state.diskUsage()
            let selected = Set(try await ImageFilterFlags.images(passing: filters, in: state).map(\.name))
            var rows = [["NAME", "SIZE", "UNIQUE SIZE", "BLOBS"]]
            for image in usage.images.sorted(by: { $0.record.name.description < $1.record.name.description })
            where selected.contains(image.record.name) {
                rows.append([image.record.name.familiar, HumanFormat.size(image.size),
                             HumanFormat.size(image.uniqueSize), String(image.blobCount)])
            }
            print(HumanFormat.table(rows), terminator: "")
            print("Total:\t\t\(HumanFormat.size(usage.blobBytes)) in \(usage.blobCount) blobs")
            print("Reclaimable:\t\(HumanFormat.size(usage.unreferencedBytes))")
        }
    }
}
