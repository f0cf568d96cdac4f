package import Foundation
package import ImgOCI
import ImgSystem

/// An open stored blob, read in chunks. Because blobs are renamed into place whole and never rewritten,
/// the bytes seen through one reader stay the ones that were verified, even if GC unlinks the name.
package final class BlobReader: Sendable {
    package let digest: Digest
    package let size: Int64
    private let file: SystemFile

    init(digest: Digest, file: SystemFile) throws(SystemError) {
        self.digest = digest
        self.file = file
        size = try file.status().size
    }

    /// Up to `buffer.count` bytes from the current offset; 0 at the end.
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws(ContentError) -> Int {
        do { return try file.read(into: buffer) } catch { throw ContentError.io("read blob \(digest)", error) }
    }

    /// Fills `buffer` unless the blob ends first.
    package func readFully(into buffer: UnsafeMutableRawBufferPointer) throws(ContentError) -> Int {
        do { return try file.readFully(into: buffer) } catch { throw ContentError.io("read blob \(digest)", error) }
    }

    /// The next chunk of at most `maxLength` bytes, or nil at the end.
    package func read(maxLength: Int = ContentStore.chunkSize) throws(ContentError) -> Data? {
        var chunk = Data(count: maxLength)
        let count = try chunk.fill { (buffer) throws(ContentError) in try readFully(into: buffer) }
        guard count > 0 else { return nil }
        if count < maxLength { chunk.removeSubrange(count...) }
        return chunk
    }

    /// Moves the read offset, e.g. to serve or push a byte range.
    package func seek(to offset: Int64) throws(ContentError) {
        do { try file.seek(to: offset) } catch { throw ContentError.io("seek blob \(digest)", error) }
    }

    /// Calls `body` with each chunk from the current offset to the end, reusing one buffer.
    package func forEachChunk(chunkSize: Int = ContentStore.chunkSize,
                              _ body: (UnsafeRawBufferPointer) throws(ContentError) -> Void) throws(ContentError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try readFully(into: buffer)
            if count == 0 { return }
            try body(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            if count < chunkSize { return }
        }
    }
}

/// A blob as an async sequence of `Data` chunks, for uploads and copies.
package struct BlobChunks: AsyncSequence, Sendable {
    package typealias Element = Data
    package typealias Failure = ContentError
    let reader: BlobReader
    let chunkSize: Int

    package struct AsyncIterator: AsyncIteratorProtocol {
        package typealias Failure = ContentError
        let reader: BlobReader
        let chunkSize: Int
        package mutating func next(isolation actor: isolated (any Actor)?) async throws(ContentError) -> Data? {
            try reader.read(maxLength: chunkSize)
        }
        package mutating func next() async throws(ContentError) -> Data? { try reader.read(maxLength: chunkSize) }
    }

    package func makeAsyncIterator() -> AsyncIterator { AsyncIterator(reader: reader, chunkSize: chunkSize) }
}

extension Data {
    /// `withUnsafeMutableBytes` keeping a typed error (a `rethrows` call would widen it to `any Error`).
    mutating func fill(_ body: (UnsafeMutableRawBufferPointer) throws(ContentError) -> Int) throws(ContentError) -> Int {
        let result = withUnsafeMutableBytes { buffer in Result { () throws(ContentError) in try body(buffer) } }
        return try result.get()
    }
}
