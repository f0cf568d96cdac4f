import ArgumentParser
import Foundation
import ImgArchive
import ImgContent
import ImgExport
import ImgOCI

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
            let state = try options.openState()
            try await WorkDirectory.with(state, "save") { work in
                let tree = work.file("archive")
                try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: false)
                switch format {
                case .oci:
                    var entries: [OCILayout.Image] = []
                    for name in images {
                        let record = try await state.images.get(try parseReference(name))
                        entries.append(OCILayout.Image(descriptor: record.descriptor, name: record.name))
                    }
                    try ImageArchive.writeOCI(entries, state: state, into: tree)
                case .docker:
                    var entries: [DockerArchive.Entry] = []
                    for name in images {
                        let image = try await StoredImage.load(name, platform: platform, state: state)
                        entries.append(.init(manifest: image.manifest, names: [image.record.name]))
                    }
                    try DockerArchive.write(entries, state: state, into: tree)
                }
                try ImageArchive.tar(tree, to: output)
            }
        }
    }
}
