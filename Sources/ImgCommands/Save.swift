import ArgumentParser
import Foundation
import Img

/// `img save IMAGE... [-o FILE] [--format docker|oci]`: images as a tar archive, streamed to stdout by
/// default. `docker` writes docker's `manifest.json` layout with uncompressed layers (what `docker load`
/// and `skopeo docker-archive:` read); `oci` writes an OCI image layout (`oci-archive:`).
struct Save: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "save", abstract: "Save images to a tar archive (streamed to STDOUT by default).")

    enum Format: String, ExpressibleByArgument, CaseIterable { case docker, oci }

    @OptionGroup var global: GlobalOptions
    @ParentCommand var root: ImgCommand

    @Option(name: [.short, .long], help: ArgumentHelp("Write to a file instead of STDOUT.", valueName: "file"))
    var output: String?

    @Option(help: "Archive format: docker or oci.")
    var format: Format = .docker

    @Option(help: ArgumentHelp("Platform to save from multi-platform images (docker format; default: the host's).", valueName: "os/arch[/variant]"))
    var platform: String?

    @Argument(help: ArgumentHelp("Images to save.", valueName: "IMAGE")) var images: [String]

    func validate() throws {
        if images.isEmpty { throw ValidationError("save needs at least one IMAGE") }
        if output == nil, isatty(1) != 0 {
            throw ValidationError("cowardly refusing to write an archive to a terminal: use -o FILE or redirect STDOUT")
        }
    }

    func run() async throws {
        let options = root.global.merged(with: global)
        try await reportingErrors {
            try await options.engine().save(images, format: format == .oci ? .oci : .docker, platform: platform, to: output)
        }
    }
}
