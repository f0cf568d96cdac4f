package import Foundation
package import ImgContent
package import ImgOCI
package import ImgRegistry

extension CacheImporter {
    /// `--cache-from REF` and `--cache-from type=registry,ref=REF`: the cache manifest under `reference`
    /// (`CacheImporter.registry`) or, when the reference names an image, the inline cache in the config
    /// of each of the build's `platforms`. Nil after one warning line when neither can be used.
    package static func registryOrInline(_ reference: Reference, platforms: [Platform], client: RegistryClient,
                                         insecure: Bool = false, label: String,
                                         warn: @escaping @Sendable (String) -> Void) async -> CacheImporter? {
        do {
            let root = try await client.fetchManifest(reference)
            if !root.isIndex, let manifest = try? root.decodeManifest(), manifest.config.mediaType == CacheConfig.mediaType {
                return await registry(reference, client: client, insecure: insecure, label: label, fetched: root, warn: warn)
            }
            return try await inline(reference, platforms: platforms, client: client, insecure: insecure, label: label,
                                    warn: warn)
        } catch {
            warn("warning: \(label): \(error); building without it")
            return nil
        }
    }

    /// The inline caches of the images `reference` names for `platforms`, as one cache: each image's
    /// layers are a chain in the cache config, its records point into that chain, and their image configs
    /// are rebuilt from the records and the image's config (each checked against the digest its record
    /// gives). Layer blobs come from the image's repository when a step needs them.
    static func inline(_ reference: Reference, platforms: [Platform], client: RegistryClient, insecure: Bool, label: String,
                       warn: @escaping @Sendable (String) -> Void) async throws -> CacheImporter {
        var cache = InlineImport()
        var failures: [(Platform, any Error)] = []
        for platform in platforms {
            do { try await cache.add(reference, platform: platform, client: client) } catch { failures.append((platform, error)) }
        }
        // One platform's problem is the source's; with several, the others' inline caches are still used.
        if let first = failures.first, failures.count == platforms.count { throw first.1 }
        for (platform, error) in failures { warn("warning: \(label): \(error); building \(platform) without it") }
        if cache.unusable > 0 {
            warn("warning: \(label): \(cache.unusable) records of the inline cache do not match the image; those steps run")
        }
        // The importer reads the manifest's blobs only; there is no cache config blob behind an inline cache.
        let manifest = Manifest(mediaType: .ociManifest,
                                config: Descriptor(mediaType: CacheConfig.mediaType, digest: .sha256(of: Data()), size: 0),
                                layers: cache.blobs)
        return CacheImporter(manifest: manifest, config: cache.config,
                             store: InlineCacheStore(images: RegistryCacheStore(reference: reference, client: client, insecure: insecure),
                                                     configs: cache.configs),
                             label: label, warn: warn)
    }
}

/// The inline caches of one build's images, gathered as one cache config.
struct InlineImport {
    var config = CacheConfig(layers: [], records: [])
    /// The layer blobs (annotated with their diffIDs) and the rebuilt image configs, each once.
    var blobs: [Descriptor] = []
    var configs: [Digest: Data] = [:]
    /// Records whose rebuilt config does not have the digest they give.
    var unusable = 0
    private var listed: Set<Digest> = []

    /// Adds the inline cache of the image `reference` names for `platform`; throws when it has none img reads.
    mutating func add(_ reference: Reference, platform: Platform, client: RegistryClient) async throws {
        let resolved = try await client.resolve(reference, platform: platform)
        let manifest = resolved.decodedManifest
        let name = reference.familiar
        let bytes = Data(try await client.fetchBlobBytes(manifest.config, from: reference))
        guard let image = try? JSONDecoder().decode(ImageConfig.self, from: bytes),
              image.rootfs.diffIDs.count == manifest.layers.count else {
            throw ExportError(.invalidCache, "the image config of \(name) is invalid")
        }
        let found: [InlineCache.Record]?
        do { found = try InlineCache.records(inConfig: bytes) } catch {
            throw ExportError(.invalidCache, "the inline cache of \(name) is invalid")
        }
        guard let found, !found.isEmpty else {
            throw ExportError(.invalidCache, "\(name) has no inline cache (an image built with --cache-to type=inline has one)")
        }
        let records = found.filter { $0.keyVersion == CacheConfig.currentKeyVersion }
        guard !records.isEmpty else {
            let version = found.compactMap(\.keyVersion).first
            throw ExportError(.invalidCache, "the inline cache of \(name) has \(version.map { "img key version \($0)" } ?? "no img keys"), this img reads version \(CacheConfig.currentKeyVersion)")
        }

        // The image's layers, bottom first, as one chain of the cache config.
        let base = config.layers.count
        for (position, (layer, diffID)) in zip(manifest.layers, image.rootfs.diffIDs).enumerated() {
            config.layers.append(CacheConfig.Layer(blob: layer.digest, parent: position == 0 ? -1 : base + position - 1))
            guard listed.insert(layer.digest).inserted else { continue }
            var descriptor = layer
            // As a local cache record names its layers (the image may have docker's media types).
            descriptor.mediaType = ImageMediaTypes.oci.layer(layer.mediaType)
            var annotations = descriptor.annotations ?? [:]
            annotations[CacheConfig.uncompressedAnnotation] = diffID.description
            descriptor.annotations = annotations
            descriptor.platform = nil
            blobs.append(descriptor)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for record in records {
            guard let digest = record.config, let step = record.stepConfig(in: image),
                  let stepBytes = try? encoder.encode(step), Digest.sha256(of: stepBytes) == digest else {
                unusable += 1
                continue
            }
            if listed.insert(digest).inserted {
                configs[digest] = stepBytes
                blobs.append(Descriptor(mediaType: .ociConfig, digest: digest, size: Int64(stepBytes.count)))
            }
            config.records.append(CacheConfig.Record(
                digest: record.digest,
                results: record.results.map { CacheConfig.Result(layer: base + $0.layer, createdAt: $0.createdAt) },
                config: digest))
        }
    }
}

/// The blobs of an inline cache: the image configs rebuilt from it, and the image's layers, downloaded
/// from its repository as a registry cache's are.
struct InlineCacheStore: CacheBlobStore {
    var images: RegistryCacheStore
    var configs: [Digest: Data]

    func bytes(_ descriptor: Descriptor) async throws -> Data {
        if let data = configs[descriptor.digest] { return data }
        return try await images.bytes(descriptor)
    }

    func ingest(_ descriptor: Descriptor, into state: StateDirectory) async throws -> Int64 {
        if let data = configs[descriptor.digest] {
            if state.content.exists(descriptor.digest) { return 0 }
            _ = try await state.content.ingest(data, expected: descriptor)
            return descriptor.size
        }
        return try await images.ingest(descriptor, into: state)
    }

    /// The image's layers stay in its repository until a step needs them, as a registry cache's do.
    func leave(_ layer: Descriptor, in state: StateDirectory) async throws -> Bool {
        try await images.leave(layer, in: state)
    }
}
