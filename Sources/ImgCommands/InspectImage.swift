import ArgumentParser
import Foundation
import ImgContent
import ImgDockerfile
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
    }

    func run() async throws {
        let options = root.global.merged(with: global)
        try await reportingErrors {
            let state = try options.openState()
            let record = try await state.images.get(try parseReference(image))
            let wanted = try Platform(parsing: platform ?? BuildPlatform.host.description)
            let decoder = JSONDecoder()
            var index: Index?
            var manifestDescriptor = record.descriptor
            if record.descriptor.mediaType.isIndex {
                let decoded = try decode(Index.self, state.content.data(for: record.descriptor.digest), decoder)
                guard let chosen = decoded.manifest(for: wanted) else {
                    throw CommandError("image \(record.name.familiar) has no manifest for platform \(wanted)")
                }
                index = decoded
                manifestDescriptor = chosen
            }
            let manifest = try decode(Manifest.self, state.content.data(for: manifestDescriptor.digest), decoder)
            let config = try decode(ImageConfig.self, state.content.data(for: manifest.config.digest), decoder)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let out = Output(name: record.name.description, descriptor: record.descriptor, index: index,
                             manifest: manifest, config: config)
            print(String(decoding: try encoder.encode(out), as: UTF8.self))
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ data: Data, _ decoder: JSONDecoder) throws -> T {
        do { return try decoder.decode(type, from: data) } catch {
            throw CommandError("image \(image): stored \(type) is not valid JSON: \(error)")
        }
    }
}
