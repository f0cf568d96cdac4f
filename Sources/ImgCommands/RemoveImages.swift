import ArgumentParser
import ImgContent

/// `img rm IMAGE...`: untag images; their blobs go at the next `img prune`.
struct RemoveImages: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove one or more images.", aliases: ["rmi"])

    @OptionGroup var global: GlobalOptions
    @ParentCommand var root: ImgCommand

    @Argument(help: ArgumentHelp("Images to remove.", valueName: "IMAGE")) var images: [String]

    func validate() throws {
        if images.isEmpty { throw ValidationError("rm needs at least one IMAGE") }
    }

    func run() async throws {
        let options = root.global.merged(with: global)
        try await reportingErrors {
            let state = try options.openState()
            var failed = false
            // Like docker: go through every name, report each failure, exit 1 if any failed.
            for name in images {
                do {
                    let removed = try await state.images.remove(try parseReference(name))
                    print("Untagged: \(removed.name.familiar)")
                } catch let error as ContentError where error.code == .imageNotFound {
                    StandardError.print("error: No such image: \(name)")
                    failed = true
                }
            }
            if failed { throw ExitCode.failure }
        }
    }
}
