package import Foundation
package import ImgContent
package import ImgOCI
package import ImgRegistry
import Synchronization

/// `--cache-from`: a build cache whose cache config was read once; for a key it holds, the blobs the result
/// needs (its image config and layer chain, each verified) are copied into the content store, or for a
/// registry's layers only noted as there (fetched when a step that runs, an export or a later command needs
/// them), and the result is recorded in the local cache. What goes wrong is a warning, once per problem, and a miss.
package final class CacheImporter: Sendable {
    /// How warnings name this source: `--cache-from type=local,src=DIR`.
    package let label: String
    let config: CacheConfig
    let store: any CacheBlobStore
    let warn: @Sendable (String) -> Void
    let records: [Digest: CacheConfig.Record]
    /// The cache manifest's blobs by digest.
    let blobs: [Digest: Descriptor]
    let warned = Mutex<Set<String>>([])
    /// Cache mounts being unpacked, by id: two steps mounting one id at once share one unpack.
    let seeding = Mutex<[String: Task<Bool, Never>]>([:])
    private let imported = Mutex(Imported())
    let prefetch: ConfigPrefetch
    /// Records being prepared ahead of their steps, by key (`prepareAhead`).
    let ahead = Mutex<[Digest: Task<Prepared, any Error>]>([:])

    /// What a build took from this cache.
    package struct Imported: Sendable, Hashable {
        /// Records copied into the local cache (steps that hit here).
        package var records = 0
        /// Blobs copied or downloaded (layers the state directory did not have, and image configs).
        package var blobs = 0
        package var bytes: Int64 = 0
        /// Layers left in the registry (a lazy import), fetched only if something needs them.
        package var left: Set<Digest> = []
        package var leftBytes: Int64 = 0
        var copied: Set<Digest> = []
    }

    /// What this build took from the cache so far.
    package var taken: Imported { imported.withLock { $0 } }

    package init(manifest: Manifest, config: CacheConfig, store: any CacheBlobStore, label: String,
                 warn: @escaping @Sendable (String) -> Void) {
        self.config = config
        self.store = store
        self.label = label
        self.warn = warn
        var records: [Digest: CacheConfig.Record] = [:]
        for record in config.records where records[record.digest] == nil { records[record.digest] = record }
        self.records = records
        var blobs: [Digest: Descriptor] = [:]
        for blob in manifest.layers { blobs[blob.digest] = blob }
        self.blobs = blobs
        prefetch = ConfigPrefetch(config)
        prefetch.roots(records: config.records, blobs: blobs, store: store)
    }

    /// The cache directory `directory` (tag `tag`), or nil after one warning line when it cannot be used.
    package static func local(directory: String, tag: String, label: String,
                              warn: @escaping @Sendable (String) -> Void) -> CacheImporter? {
        do {
            let cache = try LocalCache.read(directory: directory, tag: tag)
            return CacheImporter(manifest: cache.manifest, config: cache.config, store: LocalCacheStore(directory: directory),
                                 label: label, warn: warn)
        } catch {
            warn("warning: \(label): \(error); building without it")
            return nil
        }
    }

    /// The cache in the registry under `reference`, or nil after one warning line when it cannot be used.
    package static func registry(_ reference: Reference, client: RegistryClient, insecure: Bool = false, label: String,
                                 fetched: FetchedManifest? = nil,
                                 warn: @escaping @Sendable (String) -> Void) async -> CacheImporter? {
        let store = RegistryCacheStore(reference: reference, client: client, insecure: insecure)
        do {
            let (manifest, config) = try await store.read(fetched: fetched)
            return CacheImporter(manifest: manifest, config: config, store: store, label: label, warn: warn)
        } catch {
            warn("warning: \(label): \(error); building without it")
            return nil
        }
    }

    /// The cache config in `data` (the blob `digest`), refused unless img wrote it with the keys this img makes.
    package static func cacheConfig(_ data: Data, digest: Digest) throws -> CacheConfig {
        let config: CacheConfig
        do { config = try JSONDecoder().decode(CacheConfig.self, from: data) } catch {
            throw ExportError(.invalidCache, "the cache config \(digest) is invalid")
        }
        guard config.keyVersion == CacheConfig.currentKeyVersion else {
            throw ExportError(.invalidCache, "the cache has \(config.keyVersion.map { "img key version \($0)" } ?? "no img keys"), this img reads version \(CacheConfig.currentKeyVersion)")
        }
        return config
    }

    /// An image config the cache config carries (a base image's or a record's), checked against `digest`.
    package func embeddedConfig(_ digest: Digest) -> Data? { config.embeddedConfig(digest) }

    /// How many records the cache holds.
    package var count: Int { records.count }

    /// Records the result of `key` in `state`'s cache when this cache holds it, and returns it; nil if not.
    package func importRecord(_ key: Digest, into state: StateDirectory) async -> ImportedRecord? {
        guard let record = records[key] else { return nil }
        do {
            let prepared = if let task = ahead.withLock({ $0.removeValue(forKey: key) }) { try await task.value }
                else { try await prepare(record, into: state) }
            try await finish(prepared, into: state)
            prefetch.after(key, records: config.records, blobs: blobs, store: store)
            prepareAhead(after: key, into: state)
            return ImportedRecord(descriptor: prepared.manifest, manifest: prepared.manifestValue, config: prepared.config)
        } catch {
            let line = "warning: \(label): \(error); the step runs"
            if warned.withLock({ $0.insert(line).inserted }) { warn(line) }
            return nil
        }
    }

    /// A record's image config and manifest, stored; what `finish` needs to record it.
    struct Prepared: Sendable {
        var record: CacheConfig.Record
        var layers: [Descriptor]
        var manifest: Descriptor
        var manifestValue: Manifest
        var config: ImageConfig
        /// Blobs this record copied in (not there before), by digest.
        var copied: [Digest: Int64]
    }

    /// After `key` hit, the records made directly on it are prepared (their configs and manifests stored)
    /// side by side, so the steps that ask next find only the record to write: on a cold runner each is
    /// otherwise a round trip and two synced files, one step after another. A prepared record nobody asks
    /// for leaves only its two small blobs, unreferenced, for GC.
    private func prepareAhead(after key: Digest, into state: StateDirectory) {
        guard let index = prefetch.indexByKey[key] else { return }
        let next = (prefetch.children[index] ?? []).prefix(Self.aheadLimit).map { config.records[$0] }
        ahead.withLock { tasks in
            for record in next where tasks[record.digest] == nil && self.records[record.digest] == record {
                tasks[record.digest] = Task { try await self.prepare(record, into: state) }
            }
        }
    }

    static let aheadLimit = 8

    /// Before the first step asks: the records of each stage's first steps and those made on them, breadth
    /// first, up to `aheadLimit`, are prepared side by side while the build plans (their configs are usually
    /// in the cache config, so this is only local writes).
    package func prepareFirst(into state: StateDirectory) {
        let picked = CacheConfig.breadthFirst(config.records, children: prefetch.children).lazy
            .map { self.config.records[$0] }.filter { self.records[$0.digest] == $0 }.prefix(Self.aheadLimit)
        ahead.withLock { tasks in
            for record in picked where tasks[record.digest] == nil {
                tasks[record.digest] = Task { try await self.prepare(record, into: state) }
            }
        }
    }

    /// Waits for the records still being prepared ahead (none is recorded), so the build leaves no ingest
    /// half-written behind when it ends.
    package func settle() async {
        let tasks = ahead.withLock { tasks in defer { tasks = [:] }; return Array(tasks.values) }
        for task in tasks { _ = try? await task.value }
    }

    private func prepare(_ record: CacheConfig.Record, into state: StateDirectory) async throws -> Prepared {
        func invalid(_ message: String) -> ExportError { ExportError(.invalidCache, message) }
        guard let configDigest = record.config, let configBlob = blobs[configDigest] else {
            throw invalid("the record of \(record.digest) has no image config")
        }
        var chain: [Digest] = []
        if let top = record.results.first {
            guard let found = config.chain(top: top.layer) else {
                throw invalid("the record of \(record.digest) names a layer that is not in the cache")
            }
            chain = found
        }
        let configData: Data
        if let embedded = config.embeddedConfig(configDigest) {
            configData = embedded
        } else if let ahead = await prefetch.bytes(configDigest) {
            configData = ahead
        } else {
            configData = try await store.bytes(configBlob)
        }
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
            // The layer as the image names it: without the annotation the cache added.
            layer.annotations?.removeValue(forKey: CacheConfig.uncompressedAnnotation)
            if layer.annotations?.isEmpty == true { layer.annotations = nil }
            layers.append(layer)
        }
        let config = Descriptor(mediaType: .ociConfig, digest: configDigest, size: Int64(configData.count))
        // What this record copied in, by blob: two steps (or two platforms) sharing a blob count it once.
        var copied: [Digest: Int64] = [:]
        if !state.content.exists(configDigest) { copied[configDigest] = config.size }
        // The config and the manifest are stored side by side (each waits on its own fsyncs).
        let content = state.content
        async let configStored = content.ingest(configData, expected: config)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let manifestValue = Manifest(mediaType: .ociManifest, config: config, layers: layers)
        let manifest = try encoder.encode(manifestValue)
        async let manifestStored = content.ingest(manifest, mediaType: .ociManifest)
        _ = try await configStored
        return Prepared(record: record, layers: layers, manifest: try await manifestStored, manifestValue: manifestValue,
                        config: image, copied: copied)
    }

    /// Notes (or copies) the record's layers and writes the record: its step is a hit from here on.
    private func finish(_ prepared: Prepared, into state: StateDirectory) async throws {
        var copied = prepared.copied
        var left: [Digest: Int64] = [:]
        // A layer an earlier record of this build left in the registry is noted already (one write less per
        // layer per step: a chain's records share their lower layers).
        let noted = imported.withLock { $0.left }
        for layer in prepared.layers where !noted.contains(layer.digest) && !state.content.exists(layer.digest) {
            if try await store.leave(layer, in: state) {
                left[layer.digest] = layer.size
                continue
            }
            let bytes = try await store.ingest(layer, into: state)
            if bytes > 0 { copied[layer.digest] = bytes }
        }
        try await state.cache.put(key: prepared.record.digest, result: prepared.manifest)
        imported.withLock { taken in
            taken.records += 1
            for (digest, bytes) in copied where taken.copied.insert(digest).inserted {
                taken.blobs += 1
                taken.bytes += bytes
            }
            for (digest, bytes) in left where taken.left.insert(digest).inserted {
                taken.leftBytes += bytes
            }
        }
    }
}
