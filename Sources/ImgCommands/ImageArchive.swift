import Foundation
import Glibc
import ImgArchive
import ImgContent
import ImgOCI
import ImgSystem

/// Writes images as docker or OCI archives: shared by `img save` and `img build -o type=docker|oci`.
enum ImageArchive {
    /// One image of a docker archive: its manifest, and the names it gets (`RepoTags`).
    struct DockerEntry {
        var manifest: Manifest
        var names: [Reference]
    }

    /// The OCI image layout of `images` in `tree`.
    static func writeOCI(_ images: [OCILayout.Image], state: StateDirectory, into tree: String) throws {
        try OCILayout.write(images, to: tree, from: state.content)
    }

    /// docker's layout: `manifest.json`, `repositories`, the config and each layer uncompressed, named by
    /// digest under `blobs/sha256/`.
    static func writeDocker(_ images: [DockerEntry], state: StateDirectory, into tree: String) throws {
        struct Entry: Encodable {
            var Config: String
            var RepoTags: [String]
            var Layers: [String]
        }
        let blobs = tree + "/blobs/sha256"
        try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
        var entries: [Entry] = []
        var repositories: [String: [String: String]] = [:]
        for image in images {
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
            let tags = image.names.filter { $0.digest == nil }
            entries.append(Entry(Config: "blobs/sha256/" + config.hex, RepoTags: tags.map(\.familiar), Layers: layers))
            for name in tags {
                if let tag = name.tag { repositories[name.familiarName, default: [:]][tag] = config.hex }
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(entries).write(to: URL(filePath: tree + "/manifest.json"))
        try encoder.encode(repositories).write(to: URL(filePath: tree + "/repositories"))
    }

    /// Tars `tree` to `output` (written to a temporary file and renamed, so a failure never leaves half an
    /// archive there) or, when nil, to stdout.
    static func tar(_ tree: String, to output: String?, sourceDateEpoch: Int64? = 0) throws {
        let sink: FileSink
        let partial = output.map { $0 + ".partial-\(ProcessOwners.token)" }
        if let partial { sink = try FileSink(creating: partial) } else { sink = FileSink(fileDescriptor: 1, describing: "stdout") }
        do {
            try TreeArchive.create(from: tree, to: sink, sourceDateEpoch: sourceDateEpoch)
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
