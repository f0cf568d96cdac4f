import ArgumentParser
import Foundation
import ImgArchive
import ImgContent
import ImgOCI

/// `img save IMAGE... [-o FILE] [--format docker|oci]`: images as a tar archive, streamed to stdout by
/// default. `docker` writes docker's `manifest.json` layout with uncompressed layers (what `docker load`
/// and `skopeo docker-archive:` read); `oci` writes an OCI image layout (`oci-archive:`).
struct Save: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Save images to a tar archive (streamed to STDOUT by default).")

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
                case .oci: try await writeOCI(state, into: tree)
                case .docker: try await writeDocker(state, into: tree)
                }
                // The tar goes to a temporary file first so a failure never leaves half an archive at -o.
                let sink: FileSink
                let partial = output.map { $0 + ".partial-\(getpid())" }
                if let partial { sink = try FileSink(creating: partial) } else { sink = FileSink(fileDescriptor: 1, describing: "stdout") }
                do {
                    try TreeArchive.create(from: tree, to: sink, sourceDateEpoch: 0)
                    if let partial, let output {
                        try sink.sync()
                        sink.close()
                        guard rename(partial, output) == 0 else { throw CommandError("cannot write \(output): \(String(cString: strerror(errno)))") }
                    }
                } catch {
                    if let partial { sink.close(); unlink(partial) }
                    throw error
                }
            }
        }
    }

    private func writeOCI(_ state: StateDirectory, into tree: String) async throws {
        var entries: [OCILayout.Image] = []
        for name in images {
            let record = try await state.images.get(try parseReference(name))
            entries.append(OCILayout.Image(descriptor: record.descriptor, name: record.name))
        }
        try OCILayout.write(entries, to: tree, from: state.content)
    }

    /// docker's layout: `manifest.json`, `repositories`, the config and each layer uncompressed, named by
    /// digest under `blobs/sha256/`.
    private func writeDocker(_ state: StateDirectory, into tree: String) async throws {
        struct Entry: Encodable {
            var Config: String
            var RepoTags: [String]
            var Layers: [String]
        }
        let blobs = tree + "/blobs/sha256"
        try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
        var entries: [Entry] = []
        var repositories: [String: [String: String]] = [:]
        for name in images {
            let image = try await StoredImage.load(name, platform: platform, state: state)
            let config = image.manifest.config.digest
            if !FileManager.default.fileExists(atPath: blobs + "/" + config.hex) {
                try FileManager.default.copyItem(atPath: state.content.path(for: config), toPath: blobs + "/" + config.hex)
            }
            var layers: [String] = []
            for layer in image.manifest.layers {
                let tmp = blobs + "/tmp-" + layer.digest.hex
                let (diffID, _) = try Compression.decompress(file: state.content.path(for: layer.digest), to: tmp)
                let target = blobs + "/" + diffID.hex
                if FileManager.default.fileExists(atPath: target) { unlink(tmp) } else { rename(tmp, target) }
                layers.append("blobs/sha256/" + diffID.hex)
            }
            let tag = image.record.name.digest == nil ? [image.record.name.familiar] : []
            entries.append(Entry(Config: "blobs/sha256/" + config.hex, RepoTags: tag, Layers: layers))
            if let t = image.record.name.tag {
                repositories[image.record.name.familiarName, default: [:]][t] = config.hex
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(entries).write(to: URL(filePath: tree + "/manifest.json"))
        try encoder.encode(repositories).write(to: URL(filePath: tree + "/repositories"))
    }
}
