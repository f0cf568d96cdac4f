import Foundation
package import ImgArchive
import ImgContent
package import ImgOCI

/// `--cache-to ...,compression=gzip|zstd|uncompressed[,compression-level=N][,force-compression=true]`: how
/// the cache stores its layers.
package struct CacheCompression: Sendable, Hashable {
    package var compression: LayerCompression
    /// nil: the compression's default.
    package var level: Int?
    /// `force-compression=true` with a level: layers already in the compression are redone at that level too.
    package var force: Bool

    package init(compression: LayerCompression, level: Int? = nil, force: Bool = false) {
        self.compression = compression
        self.level = level
        self.force = force
    }

    /// Whether a layer stored as `mediaType` is converted for the cache.
    func converts(_ mediaType: MediaType) -> Bool {
        mediaType.layerCompression != compression || (force && level != nil)
    }

    /// Layers are compressed on every core, as a build writes them.
    package var writeOptions: LayerWriteOptions {
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        return LayerWriteOptions(compression: compression, compressionLevel: level,
                                 gzipBlockSize: cores > 1 ? CompressingSink.defaultGzipBlockSize : nil,
                                 zstdWorkers: cores > 1 ? cores : nil)
    }
}

extension CacheExporter {
    /// The cache's layers in `compression`: each that is not is decompressed, checked against its diffID
    /// and compressed again into the content store, and the cache config and manifest name the new blob.
    /// The records' image configs name diffIDs only, so they stay as they are.
    static func compress(_ config: inout CacheConfig, blobs: inout [Descriptor], as compression: CacheCompression,
                         content: ContentStore) async throws {
        var converted: [Digest: Descriptor] = [:]
        for (index, blob) in blobs.enumerated() {
            guard let diffID = blob.annotations?[CacheConfig.uncompressedAnnotation].flatMap({ try? Digest(parsing: $0) }),
                  compression.converts(blob.mediaType) else { continue }
            var descriptor = try await convert(blob, diffID: diffID, to: compression, content: content)
            descriptor.annotations = blob.annotations
            converted[blob.digest] = descriptor
            blobs[index] = descriptor
        }
        guard !converted.isEmpty else { return }
        for index in config.layers.indices {
            if let descriptor = converted[config.layers[index].blob] { config.layers[index].blob = descriptor.digest }
        }
        // Two blobs of one diffID (gzip and zstd, say) become one: listed once.
        var listed: Set<Digest> = []
        blobs = blobs.filter { listed.insert($0.digest).inserted }
    }

    /// One layer blob recompressed into the content store; its content must be `diffID`.
    static func convert(_ layer: Descriptor, diffID: Digest, to compression: CacheCompression,
                        content: ContentStore) async throws -> Descriptor {
        let writer = try await content.beginIngest(mediaType: compression.compression.ociLayerMediaType)
        let source = content.path(for: layer.digest)
        let options = compression.writeOptions
        do {
            let sink = try CompressingSink(
                compression: compression.compression, level: compression.level,
                gzipBlockSize: options.gzipBlockSize, zstdWorkers: options.zstdWorkers,
                output: IngestByteSink(writer), label: source)
            let input = try DecompressingSource(source: try FileSource(path: source), label: source)
            try Compression.pump(input, into: sink, label: source)
            let actual = try input.finish()
            _ = try sink.finish()
            guard actual == diffID else {
                throw ExportError(.missingBlob, "layer \(layer.digest) does not hold its diffID \(diffID) (it holds \(actual))")
            }
        } catch {
            writer.abort()
            throw error
        }
        return try await writer.commit()
    }
}

/// Bytes written straight into a content-store ingest.
final class IngestByteSink: ByteSink {
    let writer: IngestWriter
    init(_ writer: IngestWriter) { self.writer = writer }
    func write(_ bytes: UnsafeRawBufferPointer) throws { try writer.write(bytes) }
}
