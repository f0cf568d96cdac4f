import AsyncHTTPClient
import Foundation
import NIOCore

/// What a request sends.
enum RequestBody: Sendable {
    case bytes(ByteBuffer)
    /// Bytes `range` of a file, streamed from disk: uploads never hold a whole blob.
    case file(path: String, range: Range<Int64>)
}

extension RegistryClient {
    /// Sends `request` with bytes `range` of the file at `path` as its body, holding at most a few chunks
    /// in memory however fast the disk and however slow the registry.
    ///
    /// Not the async API's streaming body: it hands each chunk to the event loop without waiting, so a
    /// reader faster than the socket piled up 5–6 MiB per upload before the connection's backpressure
    /// was even seen (heaptrack: 22–25 MiB of queued buffers for four uploads). The future-based writer
    /// completes a write only once the connection's event loop took the chunk, and holds it back while
    /// the connection is not writable; delegate and channel share one event loop so that is exact.
    func executeUpload(_ request: HTTPClientRequest, file path: String, range: Range<Int64>) async throws
        -> HTTPClientResponse
    {
        let eventLoop = http.eventLoopGroup.next()
        let meter = TransferProgress.upload
        let body = HTTPClient.Body.stream(contentLength: range.upperBound - range.lowerBound) { writer in
            eventLoop.makeFutureWithTask { try await Self.stream(path, range: range, to: writer, meter: meter) }
        }
        let upload = try HTTPClient.Request(url: request.url, method: request.method, headers: request.headers, body: body,
                                            tlsConfiguration: request.tlsConfiguration)
        let task = http.execute(request: upload, delegate: ResponseAccumulator(request: upload, maxBodySize: 1 << 20),
                                eventLoop: .delegateAndChannel(on: eventLoop))
        let response = try await withTaskCancellationHandler {
            try await task.futureResult.get()
        } onCancel: {
            task.cancel()
        }
        return HTTPClientResponse(version: response.version, status: response.status, headers: response.headers,
                                  body: .bytes(response.body ?? ByteBuffer()))
    }

    /// Reads the next chunk while the previous one is being sent, and never more.
    private static func stream(_ path: String, range: Range<Int64>, to writer: HTTPClient.Body.StreamWriter,
                               meter: SharedTransferMeter?) async throws {
        var reader = try FileRangeReader(path: path, range: range)
        var sending: EventLoopFuture<Void>?
        var sent = range.lowerBound
        while let chunk = try reader.next() {
            try await sending?.get()
            meter?.advance(to: sent)
            sent += Int64(chunk.readableBytes)
            sending = writer.write(.byteBuffer(chunk))
        }
        try await sending?.get()
    }
}

/// Bytes `range` of a file in chunks, each read straight into its own `ByteBuffer` (which the connection
/// keeps until it is sent).
struct FileRangeReader {
    static let chunkSize = 256 << 10
    let path: String
    private let handle: FileHandle
    private var position: Int64
    private let end: Int64

    init(path: String, range: Range<Int64>) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw RegistryError(.configuration, "cannot open \(path) for upload")
        }
        self.path = path
        self.handle = handle
        position = range.lowerBound
        end = range.upperBound
    }

    /// The next chunk, nil after the range; a file shorter than the range is an error.
    mutating func next() throws -> ByteBuffer? {
        guard position < end else { return nil }
        let want = Int(min(Int64(Self.chunkSize), end - position))
        var buffer = ByteBufferAllocator().buffer(capacity: want)
        let (descriptor, from, path) = (handle.fileDescriptor, position, path)
        let count = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { out in
            try Self.read(descriptor, into: UnsafeMutableRawBufferPointer(rebasing: out[..<want]), at: from, path: path)
        }
        guard count == want else {
            throw RegistryError(.sizeMismatch, "\(path) ended before the size its descriptor says")
        }
        position += Int64(count)
        return buffer
    }

    /// Fills `buffer` from `offset` unless the file ends first; returns the bytes read.
    private static func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64,
                             path: String) throws -> Int {
        var total = 0
        while total < buffer.count {
            let n = pread(descriptor, buffer.baseAddress! + total, buffer.count - total, off_t(offset) + off_t(total))
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw RegistryError(.configuration, "cannot read \(path) for upload: \(String(cString: strerror(errno)))")
            }
            total += n
        }
        return total
    }
}
