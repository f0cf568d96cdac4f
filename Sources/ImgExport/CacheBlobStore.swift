package import Foundation
package import ImgContent
package import ImgOCI
package import ImgRegistry

/// Where an imported build cache's blobs are read from: a cache directory or a registry repository. Every
/// blob is checked against its descriptor on the way in.
package protocol CacheBlobStore: Sendable {
    /// A small blob's bytes (an image config).
    func bytes(_ descriptor: Descriptor) async throws -> Data
    /// Puts the blob into the content store (under the current lease), unless it is there already; returns
    /// how many bytes it copied or downloaded (0 when the blob was there).
    func ingest(_ descriptor: Descriptor, into state: StateDirectory) async throws -> Int64
    /// Notes where the layer is instead of copying it (a lazy import: the layer is fetched when something
    /// needs its bytes); false when this store copies every layer in.
    func leave(_ layer: Descriptor, in state: StateDirectory) async throws -> Bool
}

extension CacheBlobStore {
    package func leave(_ layer: Descriptor, in state: StateDirectory) async throws -> Bool { false }
}

/// The blobs of a cache directory (`LocalCache`), copied in when a record hits: a local copy is cheap, and the
/// directory may be gone by the time a later command needs them.
package struct LocalCacheStore: CacheBlobStore {
    package var directory: String

    package init(directory: String) { self.directory = directory }

    package func bytes(_ descriptor: Descriptor) async throws -> Data {
        try LocalCache.blob(descriptor, in: directory)
    }

    package func ingest(_ descriptor: Descriptor, into state: StateDirectory) async throws -> Int64 {
        if state.content.exists(descriptor.digest) { return 0 }
        _ = try await state.content.ingest(fileAt: try LocalCache.blobPath(descriptor.digest, in: directory), expected: descriptor)
        return descriptor.size
    }
}

/// The blobs of a cache in a registry repository (`--cache-from type=registry,ref=...`), downloaded with the
/// pull code (mirrors, retries, resumable, verified). Layers are left in the registry (`leave`): a build
/// whose every step hits downloads none.
package struct RegistryCacheStore: CacheBlobStore {
    package var reference: Reference
    package var client: RegistryClient
    /// `registry.insecure=true`, remembered with the layers left in the registry.
    package var insecure: Bool

    package init(reference: Reference, client: RegistryClient, insecure: Bool = false) {
        self.reference = reference
        self.client = client
        self.insecure = insecure
    }

    package func leave(_ layer: Descriptor, in state: StateDirectory) async throws -> Bool {
        try await state.sources.record([layer.digest], registry: reference.domain, repository: reference.path,
                                       insecure: insecure)
        return true
    }

    /// The cache manifest under the reference and its cache config, checked as `CacheImporter.cacheConfig`
    /// checks them.
    /// The cache manifest (`fetched`, when the caller has it already: one round trip less) and its config.
    package func read(fetched: FetchedManifest? = nil) async throws -> (Manifest, CacheConfig) {
        let fetched = if let fetched { fetched } else { try await client.fetchManifest(reference) }
        guard !fetched.isIndex, let manifest = try? fetched.decodeManifest() else {
            throw ExportError(.invalidCache, "\(reference.familiar) is not a cache manifest (\(fetched.descriptor.mediaType))")
        }
        guard manifest.config.mediaType == CacheConfig.mediaType else {
            throw ExportError(.invalidCache, "\(reference.familiar) is not a build cache (its config is \(manifest.config.mediaType))")
        }
        // The config the manifest carries (checked against its digest) spares a round trip.
        let bytes = if let embedded = manifest.config.verifiedData { embedded }
            else { Data(try await client.fetchBlobBytes(manifest.config, from: reference, limit: 1 << 30)) }
        return (manifest, try CacheImporter.cacheConfig(bytes, digest: manifest.config.digest))
    }

    package func bytes(_ descriptor: Descriptor) async throws -> Data {
        Data(try await client.fetchBlobBytes(descriptor, from: reference))
    }

    package func ingest(_ descriptor: Descriptor, into state: StateDirectory) async throws -> Int64 {
        let writer = try await state.content.beginIngest(expected: descriptor)
        if writer.isComplete { return 0 }
        let resumedAt = writer.offset
        var sink = IngestSink(writer: writer)
        try await client.fetchBlob(descriptor, from: reference, into: &sink)
        return descriptor.size - resumedAt
    }
}
