package import Foundation
package import ImgOCI
import Glibc
import ImgSystem

/// Blobs by digest at `<state>/content/blobs/<algorithm>/<hex>`, written only whole and verified.
///
/// A final class rather than an actor: a stored blob never changes, so reads need no serialisation, and
/// an actor would queue a 64 MiB read or ingest in front of every other blob access. What needs ordering
/// is ordered by the filesystem (atomic `rename`), by per-ingest `flock`s (one writer per digest, across
/// processes too) and by the state lock against garbage collection. The only state is immutable paths.
package final class ContentStore: Sendable {
    package let layout: StateLayout
    let database: StateDatabase
    let stateLock: StateLock

    /// Bytes per read or write when streaming; memory stays at about this whatever the blob size.
    package static let chunkSize = 1 << 20

    init(layout: StateLayout, database: StateDatabase) throws(ContentError) {
        self.layout = layout
        self.database = database
        stateLock = StateLock(path: layout.lockPath)
        do {
            for algorithm in Digest.Algorithm.allCases {
                try FileSystem.createDirectory(path: layout.blobsDirectory(algorithm))
            }
            try FileSystem.createDirectory(path: layout.ingestDirectory)
        } catch { throw ContentError.io("create content store in \(layout.contentDirectory)", error) }
    }

    /// Where the blob is (or would be) stored. Read it only after `exists`.
    package func path(for digest: Digest) -> String { layout.blobPath(digest) }

    package func exists(_ digest: Digest) -> Bool {
        (try? FileSystem.status(path: layout.blobPath(digest)))?.isRegularFile ?? false
    }

    package func info(_ digest: Digest) throws(ContentError) -> BlobInfo {
        let status: FileStatus?
        do { status = try FileSystem.status(path: layout.blobPath(digest)) } catch {
            throw ContentError.io("stat blob \(digest)", error)
        }
        guard let status, status.isRegularFile else { throw ContentError.blobNotFound(digest) }
        return BlobInfo(digest: digest, size: status.size, modified: Date(timeIntervalSince1970: status.modified))
    }

    package func size(of digest: Digest) throws(ContentError) -> Int64 { try info(digest).size }

    /// Opens a blob for streaming reads.
    package func open(_ digest: Digest) throws(ContentError) -> BlobReader {
        do throws(SystemError) {
            return try BlobReader(digest: digest, file: SystemFile(path: layout.blobPath(digest), flags: SystemFile.readOnly))
        } catch {
            if error.code == ENOENT { throw ContentError.blobNotFound(digest) }
            throw ContentError.io("open blob \(digest)", error)
        }
    }

    /// The blob as a sequence of chunks of at most `chunkSize` bytes.
    package func chunks(of digest: Digest, chunkSize: Int = ContentStore.chunkSize) throws(ContentError) -> BlobChunks {
        BlobChunks(reader: try open(digest), chunkSize: chunkSize)
    }

    /// A small blob (manifest, index, config) read whole and checked against its digest.
    package func data(for digest: Digest, limit: Int = 32 << 20) throws(ContentError) -> Data {
        let reader = try open(digest)
        guard reader.size <= Int64(limit) else {
            throw ContentError(.blobTooLarge, "blob \(digest) is \(reader.size) bytes, more than the \(limit) read whole")
        }
        var data = Data(count: Int(reader.size))
        let count = try data.fill { (buffer) throws(ContentError) in try reader.readFully(into: buffer) }
        guard count == data.count else { throw ContentError.io("read blob \(digest)", "file shrank while reading") }
        let actual = Digest.sha256(of: data)
        guard actual == digest else { throw ContentError.digestMismatch(expected: digest, actual: actual) }
        return data
    }

    /// Re-hashes a stored blob; throws `digestMismatch` when it was corrupted on disk.
    package func verify(_ digest: Digest) throws(ContentError) {
        guard digest.algorithm == .sha256 else { throw ContentError.unsupported(digest) }
        let reader = try open(digest)
        var hasher = DigestHasher()
        try reader.forEachChunk { hasher.update($0) }
        let actual = hasher.finalize()
        guard actual == digest else { throw ContentError.digestMismatch(expected: digest, actual: actual) }
    }

    /// Removes a blob; false when it was not there. Garbage collection is the safe way to reclaim space:
    /// this does not check whether anything still refers to the blob.
    @discardableResult
    package func delete(_ digest: Digest) throws(ContentError) -> Bool {
        do { return try FileSystem.removeFile(path: layout.blobPath(digest)) } catch {
            throw ContentError.io("delete blob \(digest)", error)
        }
    }

    /// Every stored blob, sorted by digest. Ingests in progress are not blobs and never appear.
    package func list() throws(ContentError) -> [BlobInfo] {
        var blobs: [BlobInfo] = []
        for algorithm in Digest.Algorithm.allCases {
            let directory = layout.blobsDirectory(algorithm)
            let names: [String]
            do { names = try FileSystem.contentsOfDirectory(path: directory) } catch {
                throw ContentError.io("list blobs in \(directory)", error)
            }
            for name in names {
                // Anything that is not a well-formed digest name is not a blob (a stray temp file, say).
                guard let digest = try? Digest(algorithm: algorithm, hex: name),
                      let status = try? FileSystem.status(path: directory + "/" + name), status.isRegularFile
                else { continue }
                blobs.append(BlobInfo(digest: digest, size: status.size,
                                      modified: Date(timeIntervalSince1970: status.modified)))
            }
        }
        return blobs.sorted { $0.digest < $1.digest }
    }

    /// Count and total bytes of all blobs.
    package func usage() throws(ContentError) -> (count: Int, bytes: Int64) {
        let blobs = try list()
        return (blobs.count, blobs.reduce(0) { $0 + $1.size })
    }
}

/// A stored blob's digest and size.
package struct BlobInfo: Sendable, Hashable {
    package var digest: Digest
    package var size: Int64
    package var modified: Date
}

extension ContentError {
    static func blobNotFound(_ digest: Digest) -> ContentError {
        ContentError(.blobNotFound, "blob \(digest) not found")
    }

    static func digestMismatch(expected: Digest, actual: Digest) -> ContentError {
        ContentError(.digestMismatch, "blob \(expected) does not match its digest (got \(actual))")
    }

    static func unsupported(_ digest: Digest) -> ContentError {
        ContentError(.unsupportedDigest, "blob \(digest): only sha256 content can be stored")
    }

    static func io(_ what: String, _ cause: String) -> ContentError {
        ContentError(.io, what, cause: cause)
    }
}
