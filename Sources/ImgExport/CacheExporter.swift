import Foundation
package import ImgArchive
import ImgContent
package import ImgOCI

/// One cached step to export: its key, the key of the step it was made on, and the OCI manifest of its
/// local cache record (whose config and layers are the result).
package struct CachedStep: Sendable, Hashable {
    package var key: Digest
    package var parent: Digest?
    package var manifest: Descriptor

    package init(key: Digest, parent: Digest?, manifest: Descriptor) {
        self.key = key
        self.parent = parent
        self.manifest = manifest
    }
}

/// `--cache-to`: the given steps as a build cache, one OCI image manifest whose config is the cache config
/// and whose layers are the layer blobs and the records' image configs (see `LocalCache`), written to a
/// cache directory or pushed to a registry.
///
/// A directory: blobs go in first, each through a temporary name; `index.json` is replaced last and
/// atomically, so a reader (or a second export to the same directory) always sees one whole cache. Other tags
/// in the directory are kept. A registry: the push code (blobs the registry has are skipped or mounted), the
/// manifest last, under the tag.
package struct CacheExporter: Sendable {
    package enum Destination: Sendable {
        case directory(String, tag: String)
        case registry(Reference, RegistryExporter)
    }

    package var destination: Destination
    /// `compression=` (with `compression-level=`, `force-compression=`): the layers as the cache stores them.
    package var compression: CacheCompression?
    /// `cache-mounts=true`: the cache mount directories to export as blobs, and how to write them.
    package var cacheMounts: [CacheMountDirectory]
    package var cacheMountOptions: LayerWriteOptions
    /// The configs of the build's base images, embedded in the cache config before the records' (see
    /// `embeddedConfigs`): an importer whose FROM resolves to the same manifest has its config at once.
    package var baseConfigs: [Digest]

    package init(_ destination: Destination, compression: CacheCompression? = nil, cacheMounts: [CacheMountDirectory] = [],
                 cacheMountOptions: LayerWriteOptions = .init(), baseConfigs: [Digest] = []) {
        self.baseConfigs = baseConfigs
        self.destination = destination
        self.compression = compression
        self.cacheMounts = cacheMounts
        self.cacheMountOptions = cacheMountOptions
    }

    /// Writes the cache; returns the cache manifest's descriptor.
    @discardableResult
    package func export(_ steps: [CachedStep], in context: ExportContext) async throws -> Descriptor {
        let content = context.state.content
        var (config, blobs) = try Self.cacheConfig(steps, content: content, baseConfigs: baseConfigs)
        if let compression { try await Self.compress(&config, blobs: &blobs, as: compression, content: content) }
        if !cacheMounts.isEmpty {
            try await Self.addCacheMounts(cacheMounts, options: cacheMountOptions, to: &config, blobs: &blobs, content: content)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let configBytes = try encoder.encode(config)
        var configDescriptor = try await content.ingest(configBytes, expected: Descriptor(
            mediaType: CacheConfig.mediaType, digest: .sha256(of: configBytes), size: Int64(configBytes.count)))
        // A small cache config rides in the manifest too (OCI `data`): an importer reads the whole cache in
        // one round trip. It stays a blob of its own for every other reader.
        if configBytes.count <= Self.inlineConfigLimit { configDescriptor.data = configBytes }
        let manifest = Manifest(mediaType: .ociManifest, config: configDescriptor, layers: blobs)
        let manifestDescriptor = try await content.ingest(try encoder.encode(manifest), mediaType: .ociManifest)
        var counts = "\(config.records.count) records, \(config.layers.count) layers"
        if let mounts = config.cacheMounts?.mounts, !mounts.isEmpty {
            counts += mounts.count == 1 ? ", 1 cache mount" : ", \(mounts.count) cache mounts"
        }
        switch destination {
        case .directory(let directory, let tag):
            // Layers a lazy import left in a registry are copied into the directory: fetched first.
            try await content.fetchMissing(of: [manifestDescriptor], with: context.fetcher)
            do {
                try OCILayout.write([OCILayout.Image(descriptor: manifestDescriptor, name: nil, refName: tag)],
                                    to: directory, from: content, keepingOtherEntries: true, verifyingExisting: true)
            } catch {
                throw ExportError(.writeFailed, "cannot write the cache to \(directory): \(error)")
            }
            context.report("exported cache to \(directory) (\(counts))")
        case .registry(let reference, let registry):
            let digest = try await registry.push(manifestDescriptor, to: reference, in: context)
            context.report("pushed cache to \(reference.familiar)@\(digest) (\(counts))")
        }
        return manifestDescriptor
    }

    /// The cache config over `steps` (each key once, in key order) and the blobs its manifest lists: the
    /// layers (annotated with their diffIDs) and the records' image configs.
    static func cacheConfig(_ steps: [CachedStep], content: ContentStore, baseConfigs: [Digest] = []) throws
        -> (CacheConfig, [Descriptor])
    {
        var byKey: [Digest: CachedStep] = [:]
        for step in steps where byKey[step.key] == nil { byKey[step.key] = step }
        let ordered = byKey.values.sorted { $0.key.description < $1.key.description }

        var layers: [CacheConfig.Layer] = []
        var layerIndex: [CacheConfig.Layer: Int] = [:]
        var blobs: [Descriptor] = []
        var listed: Set<Digest> = []
        var records: [CacheConfig.Record] = []
        for step in ordered {
            let manifest: Manifest
            let image: ImageConfig
            do {
                manifest = try JSONDecoder().decode(Manifest.self, from: content.data(for: step.manifest.digest))
                image = try JSONDecoder().decode(ImageConfig.self, from: content.data(for: manifest.config.digest))
            } catch {
                throw ExportError(.missingBlob, "cannot read the cache record of \(step.key): \(error)")
            }
            guard image.rootfs.diffIDs.count == manifest.layers.count else {
                throw ExportError(.missingBlob, "the cache record of \(step.key) lists \(image.rootfs.diffIDs.count) diff_ids for \(manifest.layers.count) layers")
            }
            var parent = -1
            for (layer, diffID) in zip(manifest.layers, image.rootfs.diffIDs) {
                let entry = CacheConfig.Layer(blob: layer.digest, parent: parent)
                if let index = layerIndex[entry] {
                    parent = index
                } else {
                    layers.append(entry)
                    parent = layers.count - 1
                    layerIndex[entry] = parent
                }
                if listed.insert(layer.digest).inserted {
                    var descriptor = layer
                    var annotations = descriptor.annotations ?? [:]
                    annotations[CacheConfig.uncompressedAnnotation] = diffID.description
                    descriptor.annotations = annotations
                    blobs.append(descriptor)
                }
            }
            if listed.insert(manifest.config.digest).inserted {
                blobs.append(Descriptor(mediaType: .ociConfig, digest: manifest.config.digest, size: manifest.config.size))
            }
            let created = image.history?.last?.created ?? image.created
            records.append(CacheConfig.Record(
                digest: step.key, results: parent < 0 ? [] : [CacheConfig.Result(layer: parent, createdAt: created)],
                config: manifest.config.digest))
        }
        let recordIndex = Dictionary(uniqueKeysWithValues: records.enumerated().map { ($1.digest, $0) })
        for (index, step) in ordered.enumerated() {
            if let parent = step.parent, let link = recordIndex[parent] {
                records[index].inputs = [[CacheConfig.Input(selector: nil, link: link)]]
            }
        }
        let embedded = try embeddedConfigs(records, baseConfigs: baseConfigs, content: content)
        return (CacheConfig(layers: layers, records: records, embeddedConfigs: embedded), blobs)
    }

    /// At most this many bytes of image configs are embedded in a cache config.
    static let embeddingBudget = 96 * 1024
    /// The largest cache config the manifest carries as well (base64 in the manifest, whose size registries
    /// limit to a few MiB).
    static let inlineConfigLimit = 192 * 1024

    /// The image configs that travel inside the cache config, while they fit `embeddingBudget`: the base
    /// images' (those the store has), then the records' from the stages' first steps on, breadth first (a
    /// long chain's later configs, which repeat its whole history, are the ones left to fetch).
    static func embeddedConfigs(_ records: [CacheConfig.Record], baseConfigs: [Digest] = [], content: ContentStore) throws
        -> [Digest: Data]
    {
        var embedded: [Digest: Data] = [:]
        var used = 0
        for digest in baseConfigs where embedded[digest] == nil {
            guard let data = try? content.data(for: digest), used + data.count <= embeddingBudget else { continue }
            embedded[digest] = data
            used += data.count
        }
        for index in CacheConfig.breadthFirst(records, children: CacheConfig.children(records)) {
            guard let digest = records[index].config, embedded[digest] == nil else { continue }
            let data = try content.data(for: digest)
            if used + data.count <= embeddingBudget {
                embedded[digest] = data
                used += data.count
            }
        }
        return embedded
    }
}
