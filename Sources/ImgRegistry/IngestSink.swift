package import ImgContent
package import ImgOCI

/// A download into the content store: the registry client writes, checks the digest the ingest computes
/// as it writes, and commits; the ingest verifies size and digest again and renames into place. A dropped connection leaves the partial ingest for a
/// resumed (Range) download, in this process or the next.
package struct IngestSink: BlobSink {
    let writer: IngestWriter

    package init(writer: IngestWriter) {
        self.writer = writer
    }

    package var offset: Int64 { writer.offset }

    /// The writer hashed any partial file when it was opened and hashes every write.
    package func heldDigest() throws -> Digest { writer.heldDigest }

    package mutating func write(_ bytes: UnsafeRawBufferPointer) throws { try writer.write(bytes) }

    package mutating func commit(_ descriptor: Descriptor) async throws { _ = try await writer.commit() }

    package mutating func abort() async { writer.abort() }
}

extension StateDirectory {
    /// The sink for `descriptor`, or nil when the blob is already stored (and now protected by `lease`).
    package func sink(for descriptor: Descriptor, lease: Lease) async throws -> (any BlobSink)? {
        if try await content.protect(descriptor.digest, lease: lease) { return nil }
        let writer = try await content.beginIngest(expected: descriptor, lease: lease)
        if writer.isComplete { return nil }
        return IngestSink(writer: writer)
    }
}
