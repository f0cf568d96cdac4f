import Foundation
package import ImgContent
package import ImgOCI
import Synchronization

/// `--cache-from type=local,src=DIR[,tag=T]`: reads the cache config once; for a key it holds, copies the
/// blobs the result needs (its image config and layer chain, each verified) into the content store and
/// records the result in the local cache. What goes wrong is a warning, once per problem, and a miss.
package final class LocalCacheImporter: Sendable {
    package let cache: LocalCache
    /// How warnings name this source: `--cache-from type=local,src=DIR`.
    package let label: String
    let warn: @Sendable (String) -> Void
    let records: [Digest: CacheConfig.Record]
    /// The cache manifest's blobs by digest.
    let blobs: [Digest: Descriptor]
    private let warned = Mutex<Set<String>>([])

    init(cache: LocalCache, label: String, warn: @escaping @Sendable (String) -> Void) {
        self.cache = cache
        self.label = label
        self.warn = warn
        var records: [Digest: CacheConfig.Record] = [:]
        for record in cache.config.records where records[record.digest] == nil { records[record.digest] = record }
        self.records = records
        var blobs: [Digest: Descriptor] = [:]
        for blob in cache.manifest.layers { blobs[blob.digest] = blob }
        self.blobs = blobs
    }

    /// The cache at `directory`, or nil after one warning line when it cannot be used.
    package static func open(directory: String, tag: String, label: String,
                             warn: @escaping @Sendable (String) -> Void) -> LocalCacheImporter? {
        do {
            return LocalCacheImporter(cache: try LocalCache.read(directory: directory, tag: tag), label: label, warn: warn)
        } catch {
            warn("warning: \(label): \(error); building without it")
            return nil
        }
    }

    /// How many records the cache holds.
    package var count: Int { records.count }

    /// Records the result of `key` in `state`'s cache when this cache holds it; true if it did.
    package func importRecord(_ key: Digest, into state: StateDirectory) async -> Bool {
        guard let record = records[key] else { return false }
        do {
            try await copy(record, into: state)
            return true
        } catch {
            let line = "warning: \(label): \(error); the step runs"
            if warned.withLock({ $0.insert(line).inserted }) { warn(line) }
            return false
        }
    }

    private func copy(_ record: CacheConfig.Record, into state: StateDirectory) async throws {
        let directory = cache.directory
        func invalid(_ message: String) -> ExportError { ExportError(.invalidCache, message) }
        guard let configDigest = record.config, let configBlob = blobs[configDigest] else {
            throw invalid("the record of \(record.digest) has no image config")
        }
        var chain: [Digest] = []
        if let top = record.results.first {
            guard let found = cache.config.chain(top: top.layer) else {
                throw invalid("the record of \(record.digest) names a layer that is not in the cache")
            }
            chain = found
        }
        let configData = try LocalCache.blob(configBlob, in: directory)
        guard let image = try? JSONDecoder().decode(ImageConfig.self, from: configData) else {
            throw invalid("the image config \(configDigest) is invalid")
        }
        guard image.rootfs.diffIDs.count == chain.count else {
            throw invalid("the image config \(configDigest) lists \(image.rootfs.diffIDs.count) diff_ids for \(chain.count) layers")
        }
        var layers: [Descriptor] = []
        for (digest, diffID) in zip(chain, image.rootfs.diffIDs) {
            guard var layer = blobs[digest] else { throw invalid("layer \(digest) is not in the cache manifest") }
            if let annotated = layer.annotations?[CacheConfig.uncompressedAnnotation], annotated != diffID.description {
                throw invalid("layer \(digest) is annotated with diffID \(annotated), the config says \(diffID)")
            }
            layer.annotations?.removeValue(forKey: CacheConfig.uncompressedAnnotation)
            if layer.annotations?.isEmpty == true { layer.annotations = nil }
            layers.append(layer)
        }
        let config = Descriptor(mediaType: .ociConfig, digest: configDigest, size: Int64(configData.count))
        _ = try await state.content.ingest(configData, expected: config)
        for layer in layers where !state.content.exists(layer.digest) {
            _ = try await state.content.ingest(fileAt: try LocalCache.blobPath(layer.digest, in: directory), expected: layer)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let manifest = try encoder.encode(Manifest(mediaType: .ociManifest, config: config, layers: layers))
        let stored = try await state.content.ingest(manifest, mediaType: .ociManifest)
        try await state.cache.put(key: record.digest, result: stored)
    }
}
