import Foundation
import Glibc
import ImgArchive
package import ImgContent
package import ImgOCI
import ImgSystem

/// docker's archive layout (`docker save`, `docker load`, skopeo's `docker-archive:`), both ways, in one
/// place: `manifest.json` lists each image's config and its layers, uncompressed, by path in the tree.
package enum DockerArchive {
    /// One image of a docker archive: its manifest, and the names it gets (`RepoTags`).
    package struct Entry: Sendable {
        package var manifest: Manifest
        package var names: [Reference]

        package init(manifest: Manifest, names: [Reference]) {
            self.manifest = manifest
            self.names = names
        }
    }

    /// `manifest.json` as docker writes and reads it.
    private struct ManifestEntry: Codable {
        var Config: String
        var RepoTags: [String]?
        var Layers: [String]
    }

    /// Writes `images` into `tree`: `manifest.json`, `repositories`, each config and each layer uncompressed,
    /// named by digest under `blobs/sha256/` (a layer two images share is written once).
    package static func write(_ images: [Entry], state: StateDirectory, into tree: String) throws {
        let blobs = tree + "/blobs/sha256"
        try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
        var entries: [ManifestEntry] = []
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
            entries.append(ManifestEntry(Config: "blobs/sha256/" + config.hex, RepoTags: tags.map(\.familiar), Layers: layers))
            for name in tags {
                if let tag = name.tag { repositories[name.familiarName, default: [:]][tag] = config.hex }
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(entries).write(to: URL(filePath: tree + "/manifest.json"))
        try encoder.encode(repositories).write(to: URL(filePath: tree + "/repositories"))
    }

    /// Reads the unpacked docker archive in `tree` into the store: each entry's config and layers become an
    /// OCI manifest there. Returns each name the archive gives with its manifest; `label` names the archive
    /// in errors. Call it inside a lease (nothing is named yet).
    package static func read(_ tree: String, into state: StateDirectory, label: String) async throws -> [(Reference, Descriptor)] {
        let entries: [ManifestEntry]
        do {
            let manifestPath = try member("manifest.json", in: tree, label: label)
            entries = try JSONDecoder().decode([ManifestEntry].self, from: Data(contentsOf: URL(filePath: manifestPath)))
        } catch let error as ExportError {
            throw error
        } catch {
            throw ExportError(.invalidArchive, "invalid archive \(label): manifest.json is not a docker archive manifest")
        }
        var out: [(Reference, Descriptor)] = []
        for entry in entries {
            let configPath = try member(entry.Config, in: tree, label: label)
            let configBytes = try Data(contentsOf: URL(filePath: configPath))
            guard let config = try? JSONDecoder().decode(ImageConfig.self, from: configBytes) else {
                throw ExportError(.invalidArchive, "invalid archive \(label): \(entry.Config) is not an image config")
            }
            guard config.rootfs.diffIDs.count == entry.Layers.count else {
                throw ExportError(.invalidArchive, "invalid archive \(label): \(entry.Config) lists \(config.rootfs.diffIDs.count) diff_ids for \(entry.Layers.count) layers")
            }
            let configDesc = try await state.content.ingest(Array(configBytes), mediaType: .ociConfig)
            var layers: [Descriptor] = []
            for path in entry.Layers {
                let file = try member(path, in: tree, label: label)
                let digest = try sha256(file: file)
                let size = Int64((try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value ?? 0)
                let mediaType: MediaType = try isGzip(file) ? .ociLayerGzip : .ociLayer
                layers.append(try await state.content.ingest(
                    fileAt: file, expected: Descriptor(mediaType: mediaType, digest: digest, size: size)))
            }
            let manifest = Manifest(config: configDesc, layers: layers)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let manifestDesc = try await state.content.ingest(Array(try encoder.encode(manifest)), mediaType: .ociManifest)
            for tag in entry.RepoTags ?? [] { out.append((try Reference(parsing: tag), manifestDesc)) }
        }
        return out
    }

    /// The regular file `relative` names inside the unpacked archive, reached through no symlink; anything
    /// else is refused, so a member can never make img read a host file.
    private static func member(_ relative: String, in tree: String, label: String) throws -> String {
        do { return try TreeMember.regularFile(relative, in: tree) } catch {
            throw ExportError(.invalidArchive, "invalid archive \(label): \(error)")
        }
    }

    private static func sha256(file: String) throws -> Digest {
        guard let handle = FileHandle(forReadingAtPath: file) else { throw ExportError(.invalidArchive, "cannot read \(file)") }
        defer { try? handle.close() }
        var hasher = DigestHasher()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(chunk) }
        return hasher.finalize()
    }

    private static func isGzip(_ file: String) throws -> Bool {
        guard let handle = FileHandle(forReadingAtPath: file) else { return false }
        defer { try? handle.close() }
        let head = try handle.read(upToCount: 2) ?? Data()
        return head.count == 2 && head[head.startIndex] == 0x1f && head[head.startIndex + 1] == 0x8b
    }
}
