import ArgumentParser
import Foundation
import ImgArchive
import ImgContent
import ImgOCI
import ImgSystem

/// `img load [-i FILE]`: images from a docker or OCI archive (STDIN by default). The archive is unpacked
/// with the same in-root guarantees as a layer, every blob is verified as it enters the store, and names
/// are recorded only once everything is in: a bad archive records nothing.
struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "load", abstract: "Load images from a docker or OCI tar archive (STDIN by default).")

    @OptionGroup var global: GlobalOptions
    @ParentCommand var root: ImgCommand

    @Option(name: [.short, .long], help: ArgumentHelp("Read from a file instead of STDIN.", valueName: "file"))
    var input: String?

    func run() async throws {
        let options = root.global.merged(with: global)
        try await reportingErrors {
            let state = try options.openState()
            let label = input ?? "STDIN"
            try await WorkDirectory.with(state, "load") { work in
                var archive = input ?? work.file("input.tar")
                if input == nil {
                    let sink = try FileSink(creating: archive)
                    let stdin = FileHandle.standardInput
                    while let chunk = try stdin.read(upToCount: 1 << 20), !chunk.isEmpty {
                        try chunk.withUnsafeBytes { try sink.write($0) }
                    }
                    sink.close()
                } else {
                    archive = URL(filePath: archive).standardizedFileURL.path
                }
                let tree = work.file("archive")
                try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: false)
                do { _ = try TreeArchive.extract(from: archive, into: tree) } catch let error as ArchiveError where error.isDiskFull {
                    throw CommandError("\(error)")
                } catch {
                    throw CommandError("invalid archive \(label): \(error)")
                }
                let fm = FileManager.default
                let loaded: [(Reference, Descriptor)]
                if fm.fileExists(atPath: tree + "/manifest.json") {
                    loaded = try await loadDocker(tree, state: state, label: label)
                } else if fm.fileExists(atPath: tree + "/index.json") {
                    loaded = try await state.content.withLease { _ in
                        try await OCILayout.read(from: tree, into: state.content).compactMap { image in
                            image.name.map { ($0, image.descriptor) }
                        }
                    }
                } else {
                    throw CommandError("invalid archive \(label): neither manifest.json (docker) nor index.json (OCI) found")
                }
                guard !loaded.isEmpty else { throw CommandError("archive \(label) names no image to load") }
                try await state.content.withLease { lease in
                    for (name, descriptor) in loaded {
                        _ = try await state.content.protect(descriptor.digest, lease: lease)
                        _ = try await state.images.put(name, descriptor: descriptor)
                    }
                }
                for (name, _) in loaded { print("Loaded image: \(name.familiar)") }
            }
        }
    }

    /// docker's `manifest.json` layout: each entry's config and layers become an OCI manifest in the store.
    private func loadDocker(_ tree: String, state: StateDirectory, label: String) async throws -> [(Reference, Descriptor)] {
        struct Entry: Decodable {
            var Config: String
            var RepoTags: [String]?
            var Layers: [String]
        }
        let entries: [Entry]
        do {
            let manifestPath = try member("manifest.json", in: tree, label: label)
            entries = try JSONDecoder().decode([Entry].self, from: Data(contentsOf: URL(filePath: manifestPath)))
        } catch let error as CommandError {
            throw error
        } catch {
            throw CommandError("invalid archive \(label): manifest.json is not a docker archive manifest")
        }
        return try await state.content.withLease { _ in
            var out: [(Reference, Descriptor)] = []
            for entry in entries {
                let configPath = try member(entry.Config, in: tree, label: label)
                let configBytes = try Data(contentsOf: URL(filePath: configPath))
                guard let config = try? JSONDecoder().decode(ImageConfig.self, from: configBytes) else {
                    throw CommandError("invalid archive \(label): \(entry.Config) is not an image config")
                }
                guard config.rootfs.diffIDs.count == entry.Layers.count else {
                    throw CommandError("invalid archive \(label): \(entry.Config) lists \(config.rootfs.diffIDs.count) diff_ids for \(entry.Layers.count) layers")
                }
                let configDesc = try await state.content.ingest(Array(configBytes), mediaType: .ociConfig)
                var layers: [Descriptor] = []
                for path in entry.Layers {
                    let file = try member(path, in: tree, label: label)
                    let digest = try Self.sha256(file: file)
                    let size = Int64((try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value ?? 0)
                    let mediaType: MediaType = try Self.isGzip(file) ? .ociLayerGzip : .ociLayer
                    layers.append(try await state.content.ingest(
                        fileAt: file, expected: Descriptor(mediaType: mediaType, digest: digest, size: size)))
                }
                let manifest = Manifest(config: configDesc, layers: layers)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                let manifestDesc = try await state.content.ingest(Array(try encoder.encode(manifest)), mediaType: .ociManifest)
                for tag in entry.RepoTags ?? [] { out.append((try parseReference(tag), manifestDesc)) }
            }
            return out
        }
    }

    /// The regular file `relative` names inside the unpacked archive, reached through no symlink; anything
    /// else is refused, so a member can never make img read a host file.
    private func member(_ relative: String, in tree: String, label: String) throws -> String {
        do { return try TreeMember.regularFile(relative, in: tree) } catch {
            throw CommandError("invalid archive \(label): \(error)")
        }
    }

    private static func sha256(file: String) throws -> Digest {
        guard let handle = FileHandle(forReadingAtPath: file) else { throw CommandError("cannot read \(file)") }
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
