import ArgumentParser

/// `img tag SOURCE TARGET`: another name for an image.
struct TagImage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag", abstract: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.")

    @OptionGroup var global: GlobalOptions
    @ParentCommand var root: ImgCommand

    @Argument(help: ArgumentHelp("Existing image.", valueName: "SOURCE_IMAGE[:TAG]")) var source: String
    @Argument(help: ArgumentHelp("New name.", valueName: "TARGET_IMAGE[:TAG]")) var target: String

    func run() async throws {
        let options = root.global.merged(with: global)
        try await reportingErrors {
            let source = try parseReference(self.source), target = try parseReference(self.target)
            guard target.digest == nil else {
                throw CommandError("invalid tag \"\(self.target)\": a tag cannot name a digest")
            }
            let state = try options.openState()
            _ = try await state.images.tag(source, as: target)
        }
    }
}
