import ArgumentParser
import Foundation
import Img
import ImgOCI

/// `img inspect IMAGE`: the image's descriptor, manifest and config as JSON.
struct InspectImage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Show an image's manifest and config as JSON.")

    @OptionGroup var global: GlobalOptions
    @ParentCommand var root: ImgCommand

    @Option(help: ArgumentHelp("Platform to show when the image is a multi-platform index (default: the host's).", valueName: "os/arch[/variant]"))
    var platform: String?

    @Argument(help: ArgumentHelp("Image to inspect.", valueName: "IMAGE")) var image: String

    struct Output: Encodable {
        var name: String
        var descriptor: Descriptor
        var index: Index?
        var manifest: Manifest
        var config: ImageConfig
        /// Provenance and SBOM statements attached to the manifest.
        var attestations: [StoredImage.AttachedStatement]?
    }

    func run() async throws {
        let options = root.global.merged(with: global)
        try await reportingErrors {
            let state = try options.openState()
            let image = try await StoredImage.load(self.image, platform: platform, state: state)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            var out = Output(name: image.record.name.description, descriptor: image.record.descriptor,
                             index: image.index, manifest: image.manifest, config: image.config)
            let attached = try image.attestations(state: state)
            out.attestations = attached.isEmpty ? nil : attached
            print(String(decoding: try encoder.encode(out), as: UTF8.self))
        }
    }
}
