package import ImgOCI

/// What one image takes on disk.
package struct ImageUsage: Sendable, Hashable {
    package var record: ImageRecord
    /// Every stored blob the image reaches (index, manifests, configs, layers), each counted once.
    package var size: Int64
    /// The part of `size` no other image shares: what removing only this image could free.
    package var uniqueSize: Int64
    package var blobCount: Int
    /// Referenced blobs that are not stored (e.g. other platforms of an index).
    package var missingBlobs: Int
}

package struct DiskUsage: Sendable, Hashable {
    package var blobCount: Int
    package var blobBytes: Int64
    package var images: [ImageUsage]
    /// Bytes of blobs that no image or cache record reaches (leases aside): what GC would reclaim.
    package var unreferencedBytes: Int64
}

extension StateDirectory {
    /// Size of the image `descriptor` points at: every stored blob it reaches, each once, and the layers
    /// it names that were left in a registry (a lazy pull or cache import), as their descriptors say.
    package func size(of descriptor: Descriptor) throws(ContentError) -> Int64 {
        let closure = try content.closure(of: [descriptor])
        return closure.size + closure.missingRequired.filter(\.mediaType.isLayer).reduce(0) { $0 + $1.size }
    }

    /// Totals for `img du` / `img ls`.
    package func diskUsage() async throws(ContentError) -> DiskUsage {
        let records = try await images.list()
        let closures = try records.map { (record) throws(ContentError) in try content.closure(of: [record.descriptor]) }
        var users: [Digest: Int] = [:]
        for closure in closures { for d in closure.present { users[d.digest, default: 0] += 1 } }
        var referenced = Set(users.keys)
        for record in try await cache.list() { referenced.formUnion(try content.closure(of: [record.result]).digests) }

        let blobs = try content.list()
        var usage = DiskUsage(blobCount: blobs.count, blobBytes: blobs.reduce(0) { $0 + $1.size }, images: [],
                              unreferencedBytes: blobs.filter { !referenced.contains($0.digest) }.reduce(0) { $0 + $1.size })
        for (record, closure) in zip(records, closures) {
            usage.images.append(ImageUsage(
                record: record, size: closure.size,
                uniqueSize: closure.present.filter { users[$0.digest] == 1 }.reduce(0) { $0 + $1.size },
                blobCount: closure.present.count,
                missingBlobs: closure.missingOptional.count + closure.missingRequired.count))
        }
        return usage
    }
}
