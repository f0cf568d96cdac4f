import Foundation
import ImgArchive
import ImgContent
package import ImgOCI
import ImgSnapshot

extension BuildWorker {
    /// Mounts a writable rootfs over `parent`'s layers, lets `body` change it, and turns the change into a
    /// layer; the workspace is kept as the snapshot of the new chain, so the next step starts from it without
    /// re-applying anything, while the layer's blob goes into the content store beside it (`records`).
    /// Returns nil when `body` reports there was nothing to do.
    func layer(on parent: BuildState, _ body: (Workspace) async throws -> Bool) async throws -> LayerRecord? {
        let base = try await snapshots.prepare(try await layerBlobs(of: parent))
        let workspace = try await snapshots.workspace(on: base)
        do {
            guard try await body(workspace) else {
                await snapshots.release(workspace)
                return nil
            }
            let writer = try await state.content.beginIngest(mediaType: options.compression.ociLayerMediaType)
            let sink = IngestByteSink(writer: writer)
            let digests: BlobDigests
            do {
                digests = try await snapshots.diff(
                    workspace, to: sink,
                    options: Self.layerWriteOptions(options))
            } catch {
                writer.abort()
                throw error
            }
            let descriptor = Descriptor(mediaType: writer.mediaType, digest: digests.digest, size: digests.size)
            do {
                _ = try await snapshots.commit(workspace, diffID: digests.diffID)
            } catch {
                writer.abort()
                throw error
            }
            // The next step starts from the snapshot; the blob's fsync and move into the store go beside it.
            records.addBlob(descriptor.digest) {
                let stored = try await writer.commit()
                guard stored.digest == descriptor.digest, stored.size == descriptor.size else {
                    throw BuildError("layer \(descriptor.digest) was stored as \(stored.digest) (\(stored.size) bytes)")
                }
            }
            return LayerRecord(descriptor: descriptor, diffID: digests.diffID)
        } catch {
            await snapshots.release(workspace)
            throw error
        }
    }

    /// A read-only look at a build state's filesystem (COPY --from, RUN --mount from=): `body` gets a rootfs
    /// path; the workspace is released afterwards.
    package func withFilesystem<T>(of source: BuildState, _ body: (String) async throws -> T) async throws -> T {
        let base = try await snapshots.prepare(try await layerBlobs(of: source))
        let workspace = try await snapshots.workspace(on: base)
        do {
            let result = try await body(workspace.rootfs)
            await snapshots.release(workspace)
            return result
        } catch {
            await snapshots.release(workspace)
            throw error
        }
    }

    /// `source`'s layers as blobs to unpack when its snapshot is missing; then the ones to apply must be in
    /// the content store, so those this build is still storing are waited for and those a lazily imported
    /// cache left in the registry are fetched (a snapshot that exists needs none).
    func layerBlobs(of source: BuildState) async throws -> [LayerBlob] {
        let needed = snapshots.layersToApply(source.layers.map(\.diffID)).map { source.layers[$0].descriptor }
        if !needed.isEmpty {
            try await records.waitForBlobs(needed.map(\.digest))
            try await fetchMissing(needed)
        }
        return source.layerBlobs { state.content.path(for: $0) }
    }

    /// Fetches those of `blobs` the content store lacks (layers left in a registry by a lazy cache import).
    func fetchMissing(_ blobs: [Descriptor]) async throws {
        let missing = blobs.filter { !state.content.exists($0.digest) }
        guard !missing.isEmpty else { return }
        guard let blobFetcher else {
            throw BuildError("layer \(missing[0].digest) is not in the store")
        }
        try await blobFetcher.fetchMissing(missing)
    }

    /// Layers are compressed on every core: gzip in independent 1 MiB members (still one valid gzip
    /// stream, the same bytes for the same input), zstd with worker threads.
    static func layerWriteOptions(_ options: WorkerOptions) -> LayerWriteOptions {
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        return LayerWriteOptions(
            sourceDateEpoch: options.sourceDateEpoch, compression: options.compression,
            compressionLevel: options.compressionLevel,
            gzipBlockSize: cores > 1 ? CompressingSink.defaultGzipBlockSize : nil,
            zstdWorkers: cores > 1 ? cores : nil)
    }
}

/// A layer being written straight into a content-store ingest.
final class IngestByteSink: ByteSink {
    let writer: IngestWriter
    init(writer: IngestWriter) { self.writer = writer }
    func write(_ bytes: UnsafeRawBufferPointer) throws { try writer.write(bytes) }
}

extension BuildWorker {
    /// `result` with every layer (the base image's too) compressed as asked (`force-compression=true` on an
    /// output): each blob is decompressed, checked against its diffID and compressed again into the content
    /// store. Layers already in that compression are redone too when a level is given.
    package func recompressed(_ result: BuildState, compression: LayerCompression, level: Int?) async throws -> BuildState {
        try await records.waitForBlobs(result.layers.map(\.descriptor.digest))
        try await fetchMissing(result.layers.map(\.descriptor))
        var converted = result
        // On every core, as layers are made.
        let parallel = Self.layerWriteOptions(options)
        for (index, layer) in result.layers.enumerated() {
            if layer.descriptor.mediaType.layerCompression == compression && level == nil { continue }
            let writer = try await state.content.beginIngest(mediaType: compression.ociLayerMediaType)
            let source = state.content.path(for: layer.descriptor.digest)
            do {
                let sink = try CompressingSink(
                    compression: compression, level: level,
                    gzipBlockSize: parallel.gzipBlockSize, zstdWorkers: parallel.zstdWorkers,
                    output: IngestByteSink(writer: writer), label: source)
                let input = try DecompressingSource(source: try FileSource(path: source), label: source)
                try Compression.pump(input, into: sink, label: source)
                let diffID = try input.finish()
                _ = try sink.finish()
                guard diffID == layer.diffID else {
                    throw BuildError("layer \(layer.descriptor.digest) does not hold its diffID \(layer.diffID) (it holds \(diffID))")
                }
            } catch {
                writer.abort()
                throw error
            }
            converted.layers[index] = LayerRecord(descriptor: try await writer.commit(), diffID: layer.diffID)
        }
        return converted
    }
}
