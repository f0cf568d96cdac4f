import ImgArchive
import ImgContent
import ImgOCI

/// One `RUN --mount=type=cache` directory to export (`cache-mounts=true`): its mount id and where it is.
package struct CacheMountDirectory: Sendable, Hashable {
    package var id: String
    package var path: String

    package init(id: String, path: String) {
        self.id = id
        self.path = path
    }
}

extension CacheExporter {
    /// Each cache mount directory as one layer blob (a deterministic tar: entries sorted, numeric owners,
    /// times clamped to `SOURCE_DATE_EPOCH` when set), listed in the manifest's layers and, by id, in the
    /// cache config's `img.cacheMounts`.
    static func addCacheMounts(_ mounts: [CacheMountDirectory], options: LayerWriteOptions, to config: inout CacheConfig,
                               blobs: inout [Descriptor], content: ContentStore) async throws {
        var entries: [CacheConfig.CacheMount] = []
        var listed = Set(blobs.map(\.digest))
        for mount in mounts.sorted(by: { $0.id < $1.id }) {
            let writer = try await content.beginIngest(mediaType: options.compression.ociLayerMediaType)
            let digests: BlobDigests
            do {
                digests = try LayerExport.directory(mount.path, to: IngestByteSink(writer), options: options)
            } catch {
                writer.abort()
                throw ExportError(.writeFailed, "cannot archive the cache mount \(mount.id.replacingOccurrences(of: "\u{0}", with: " ")): \(error)")
            }
            var descriptor = try await writer.commit()
            descriptor.annotations = [CacheConfig.uncompressedAnnotation: digests.diffID.description]
            entries.append(CacheConfig.CacheMount(id: mount.id, blob: descriptor.digest, diffID: digests.diffID))
            if listed.insert(descriptor.digest).inserted { blobs.append(descriptor) }
        }
        config.cacheMounts = CacheConfig.CacheMounts(mounts: entries)
    }
}
