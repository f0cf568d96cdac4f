import Foundation
import ImgArchive
package import ImgContent
import ImgDockerfile
package import ImgExport
package import ImgOCI
package import ImgRegistry
import ImgSnapshot

/// The store's images and registries as library calls: what `img pull`, `push`, `save`, `load` and
/// `unpack` do, with the printing left to the commands.
extension ImgEngine {
    /// Pulls `reference` (the `platform` image of an index) into the store under its name. `started` runs
    /// once the registry is being reached and the store is open (the command prints `Pulling NAME`).
    package func pull(_ reference: Reference, platform: Platform, started: @Sendable () -> Void = {}) async throws -> ResolvedImage {
        try await RegistryAccess.with(try registryClient()) { client in
            // The registry's first round trips overlap opening the store.
            client.warmUp(reference)
            let state = try self.state()
            started()
            return try await state.pull(reference, platform: platform, with: client, debug: self.debug)
        }
    }

    /// Pushes the stored `reference`; returns the stored record and the digest the registry holds.
    package func push(_ reference: Reference, insecure: Bool, started: @Sendable () -> Void = {},
                      onBlob: @escaping @Sendable (Descriptor, BlobPushOutcome) -> Void = { _, _ in }) async throws
        -> (record: ImageRecord, digest: Digest)
    {
        try await RegistryAccess.with(try registryClient(insecureHosts: insecure ? [reference.domain] : [])) { client in
            client.warmUp(reference)
            let state = try self.state()
            let record = try await state.images.get(reference)
            started()
            let digest = try await self.withBlobFetcher(state) { blobs in
                try await state.push(record.descriptor, to: reference, with: client, fetcher: blobs, onBlob: onBlob,
                                     debug: self.debug)
            }
            return (record, digest)
        }
    }

    /// Writes `names` as one archive (`oci`: every image as stored, indexes included; `docker`: each one's
    /// `platform` image) to `output`, or stdout when nil.
    package func save(_ names: [String], format: ImageArchiveExporter.Format, platform: String?, to output: String?) async throws {
        let state = try self.state()
        try await withBlobFetcher(state) { blobs in
            try await WorkDirectory.with(state, "save") { work in
                let tree = try work.newDirectory("archive")
                switch format {
                case .oci:
                    var entries: [OCILayout.Image] = []
                    for name in names {
                        let record = try await state.images.get(try Reference(parsing: name))
                        try await state.content.fetchMissing(of: [record.descriptor], with: blobs)
                        entries.append(OCILayout.Image(descriptor: record.descriptor, name: record.name))
                    }
                    try ImageArchive.writeOCI(entries, state: state, into: tree)
                case .docker:
                    var entries: [DockerArchive.Entry] = []
                    for name in names {
                        let image = try await StoredImage.load(name, platform: platform, state: state)
                        try await blobs.fetchMissing(image.manifest.layers)
                        entries.append(.init(manifest: image.manifest, names: [image.record.name]))
                    }
                    try DockerArchive.write(entries, state: state, into: tree)
                }
                try ImageArchive.tar(tree, to: output)
            }
        }
    }

    /// Runs `body` with a fetcher of the blobs a lazy cache import left in registries, shut down after it.
    func withBlobFetcher<T>(_ state: StateDirectory, _ body: (RegistryBlobFetcher) async throws -> T) async throws -> T {
        let blobs = blobFetcher(state: state)
        do {
            let result = try await body(blobs)
            await blobs.shutdown()
            return result
        } catch {
            await blobs.shutdown()
            throw error
        }
    }

    /// Loads a docker or OCI archive from `input` (a file), or from standard input when nil; returns the
    /// names recorded.
    package func load(from input: String?) async throws -> [Reference] {
        let state = try self.state()
        return try await WorkDirectory.with(state, "load") { work in
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
            return try await ImageArchive.load(archive, label: input ?? "STDIN", into: state, work: work)
        }
    }

    /// The filesystem of the stored image `name` (its `platform` image) in `directory`, which must be new or
    /// empty: the layers go into the snapshot store (kept for builds and later unpacks), then the merged
    /// tree is copied out. Nothing is left half-written when it fails. Returns the image's name.
    /// An image the store does not have is pulled first, as `docker run` does (`pulling` runs then).
    package func unpack(_ name: String, platform: String?, into directory: String,
                        pulling: @Sendable (Reference) -> Void = { _ in }) async throws -> Reference {
        let state = try self.state()
        let reference = try Reference(parsing: name).withDefaultTag
        if try await state.images.find(reference) == nil {
            pulling(reference)
            _ = try await pull(reference, platform: try Platform(parsing: platform ?? BuildPlatform.host.description))
        }
        let image = try await StoredImage.load(name, platform: platform, state: state)
        let target = URL(filePath: directory, directoryHint: .isDirectory).standardizedFileURL.path
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: target, isDirectory: &isDirectory) {
            guard isDirectory.boolValue, (try? fm.contentsOfDirectory(atPath: target))?.isEmpty == true else {
                throw RequestError("cannot unpack into \(directory): it exists and is not an empty directory")
            }
        }
        let diffIDs = image.config.rootfs.diffIDs
        guard diffIDs.count == image.manifest.layers.count else {
            throw RequestError("image \(image.record.name.familiar): config lists \(diffIDs.count) diff_ids for \(image.manifest.layers.count) layers")
        }
        let store = try snapshots()
        let needed = store.layersToApply(diffIDs).map { image.manifest.layers[$0] }
        try await withBlobFetcher(state) { try await $0.fetchMissing(needed) }
        let blobs = zip(image.manifest.layers, diffIDs).map { layer, diffID in
            LayerBlob(path: state.content.path(for: layer.digest), diffID: diffID, label: "layer \(layer.digest)")
        }
        let snapshot = try await store.prepare(blobs)
        let destination = try RootfsDestination.prepare(target, debug: debug)
        do {
            try await store.export(snapshot, into: target)
            try destination.seal()
        } catch {
            // Leave nothing half-written behind (and an empty directory the caller made as it was).
            if destination.created {
                destination.discard()
            } else {
                for entry in (try? fm.contentsOfDirectory(atPath: target)) ?? [] { try? fm.removeItem(atPath: target + "/" + entry) }
            }
            throw error
        }
        return image.record.name
    }
}
