import ArgumentParser
import Img
import ImgDockerfile
import ImgOCI
import ImgRegistry

/// `img pull NAME[:TAG|@DIGEST]`: fetch an image into the store. A multi-platform index is kept, with the
/// chosen platform's manifest, config and layers.
struct Pull: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pull", abstract: "Pull an image or a repository from a registry.")

    @OptionGroup var global: GlobalOptions
    @ParentCommand var root: ImgCommand

    @Option(help: ArgumentHelp("Platform to pull from a multi-platform image (default: the host's).", valueName: "os/arch[/variant]"))
    var platform: String?

    @Argument(help: ArgumentHelp("Image to pull.", valueName: "NAME[:TAG|@DIGEST]")) var image: String

    func run() async throws {
        let options = root.global.merged(with: global)
        try await reportingErrors {
            let reference = try parseReference(image).withDefaultTag
            let platform = try Platform(parsing: self.platform ?? BuildPlatform.host.description)
            let display = TransferDisplay()
            let pulled = try await TransferProgress.$observer.withValue(display) {
                defer { display.stop() }
                return try await options.engine().pull(reference, platform: platform) {
                    print("Pulling \(reference.familiar)")
                }
            }
            print("Digest: \(pulled.root.descriptor.digest)")
            print("Pulled: \(reference.familiar)")
        }
    }
}
