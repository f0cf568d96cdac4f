import Foundation
package import ImgContent
package import ImgOCI

/// A download into the content store: the registry client writes, verifies, and commits; the store's
/// ingest re-verifies and renames into place. A dropped connection leaves the partial ingest for a
/// resumed (Range) download, in this process or the next.
package struct IngestSink: BlobSink {
    let writer: IngestWriter
    let partialPath: String

    package init(writer: IngestWriter, partialPath: String) {
        self.writer = writer
        self.partialPath = partialPath
    }

    package var offset: Int64 { writer.offset }

    package func hasherForHeldBytes() throws -> DigestHasher {
        var hasher = DigestHasher()
        let held = writer.offset
        guard held > 0 else { return hasher }
        guard let handle = FileHandle(forReadingAtPath: partialPath) else {
            throw RegistryError(.protocolError, "cannot reopen partial download \(partialPath)")
        }
        defer { try? handle.close() }
        var remaining = held
        while remaining > 0 {
            let chunk = try handle.read(upToCount: Int(min(remaining, 1 << 20))) ?? Data()
            if chunk.isEmpty { break }
            hasher.update(chunk)
            remaining -= Int64(chunk.count)
        }
        return hasher
    }

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
        return IngestSink(writer: writer, partialPath: layout.ingestPath(descriptor.digest))
    }
}
