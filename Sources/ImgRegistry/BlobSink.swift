package import ImgOCI
import Foundation

/// Where a downloaded blob goes. The client writes bytes in order starting at `offset`, checks size and
/// `heldDigest()` itself, and calls `commit` only for a blob that matched; anything else ends in `abort`.
/// The sink does the hashing as it writes, so each byte is hashed once (the content store's ingest hashes
/// anyway; a second hash in the client cost a fifth of a pull's CPU).
/// The content store adopts this for its ingests; `FileBlobSink` is the plain-file version.
package protocol BlobSink: Sendable {
    /// Bytes already held. A download resumes from here with `Range: bytes=offset-`.
    var offset: Int64 { get }
    /// The digest of every byte held: kept from an earlier download and written since.
    func heldDigest() throws -> Digest
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Called once the bytes are known to match `descriptor`.
    mutating func commit(_ descriptor: Descriptor) async throws
    /// Drops whatever was written; nothing of this blob may become visible.
    mutating func abort() async
}

/// A sink writing into `<path>.partial` and renaming it to `path` on commit.
package struct FileBlobSink: BlobSink, @unchecked Sendable {
    // @unchecked: the handle is used by one download at a time, never shared.
    package let path: String
    private let partialPath: String
    private let handle: FileHandle
    private var hasher = DigestHasher()
    package private(set) var offset: Int64

    /// Opens (or creates) the partial file; an existing partial file is kept (and hashed) so a download
    /// resumes from it.
    package init(path: String) throws {
        self.path = path
        partialPath = path + ".partial"
        if !FileManager.default.fileExists(atPath: partialPath) {
            guard FileManager.default.createFile(atPath: partialPath, contents: nil) else {
                throw RegistryError(.configuration, "cannot create \(partialPath)")
            }
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: partialPath))
        offset = Int64(try handle.seekToEnd())
        if offset > 0 {
            let reader = try FileHandle(forReadingFrom: URL(fileURLWithPath: partialPath))
            defer { try? reader.close() }
            while let chunk = try reader.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(chunk) }
        }
    }

    package func heldDigest() throws -> Digest { hasher.finalize() }

    package mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        try handle.write(contentsOf: bytes)
        hasher.update(bytes)
        offset += Int64(bytes.count)
    }

    package mutating func commit(_ descriptor: Descriptor) async throws {
        try handle.synchronize()
        try handle.close()
        guard rename(partialPath, path) == 0 else {
            throw RegistryError(.configuration, "cannot rename \(partialPath) to \(path): errno \(errno)")
        }
    }

    package mutating func abort() async {
        try? handle.close()
        unlink(partialPath)
    }
}

/// What an upload reads from. Blobs are streamed from disk; small documents (manifests, configs) may be
/// held in memory.
package enum BlobContent: Sendable {
    case file(path: String)
    case bytes([UInt8])
}
