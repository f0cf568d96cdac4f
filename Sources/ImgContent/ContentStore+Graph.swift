import Foundation
package import ImgOCI

/// What a walk of the content graph found.
package struct ContentClosure: Sendable {
    /// Stored blobs reached, with their sizes on disk, in the order first reached.
    package var present: [Descriptor] = []
    /// Blobs referenced from an index but not stored: other platforms of a single-platform pull.
    package var missingOptional: [Descriptor] = []
    /// Blobs a manifest needs (config, layers) or a root that are not stored.
    package var missingRequired: [Descriptor] = []

    package var digests: Set<Digest> { Set(present.map(\.digest)) }
    package var size: Int64 { present.reduce(0) { $0 + $1.size } }
}

extension ContentStore {
    /// The descriptors a stored blob points at: an index's manifests, a manifest's config and layers.
    /// Anything else is a leaf. Throws when an index or manifest cannot be read or parsed, because
    /// callers such as GC must not guess what a broken document refers to.
    package func children(of descriptor: Descriptor) throws(ContentError) -> [Descriptor] {
        guard descriptor.mediaType.isIndex || descriptor.mediaType.isManifest else { return [] }
        let data = try data(for: descriptor.digest)
        do {
            if descriptor.mediaType.isIndex {
                return try JSONDecoder().decode(Index.self, from: data).manifests
            }
            let manifest = try JSONDecoder().decode(Manifest.self, from: data)
            return [manifest.config] + manifest.layers
        } catch {
            throw ContentError(.invalidDocument, "blob \(descriptor.digest) is not a valid \(descriptor.mediaType)",
                               cause: "\(error)")
        }
    }

    /// Everything reachable from `roots` (each blob once), recursing through indexes and manifests.
    package func closure(of roots: [Descriptor]) throws(ContentError) -> ContentClosure {
        var result = ContentClosure()
        var seen: Set<Digest> = []
        var queue: [(Descriptor, fromIndex: Bool)] = roots.map { ($0, false) }
        while let next = queue.popLast() {
            let (descriptor, fromIndex) = next
            guard seen.insert(descriptor.digest).inserted else { continue }
            let info: BlobInfo
            do throws(ContentError) { info = try self.info(descriptor.digest) } catch where error.code == .blobNotFound {
                if fromIndex { result.missingOptional.append(descriptor) } else { result.missingRequired.append(descriptor) }
                continue
            }
            var stored = descriptor
            stored.size = info.size
            result.present.append(stored)
            let isIndex = descriptor.mediaType.isIndex
            for child in try children(of: descriptor).reversed() { queue.append((child, isIndex)) }
        }
        return result
    }
}
