package import ImgOCI
import AsyncHTTPClient
import NIOCore
import NIOHTTP1

extension RegistryClient {
    /// Whether `reference`'s repository already holds blob `digest` (HEAD).
    package func blobExists(_ digest: Digest, in reference: Reference) async throws -> Bool {
        let endpoint = settings.endpoint(host: reference.registryHost)
        let subject = "blob \(digest) in \(reference.name)"
        let response = try await send(Request(method: .HEAD, path: "/v2/\(reference.path)/blobs/\(digest)",
                                              endpoint: endpoint,
                                              scopes: RegistryClient.scopes(pull: reference.path, push: true),
                                              subject: subject, repository: reference.name))
        if response.status == .notFound { await drain(response); return false }
        try await expect(response, [.ok], subject: subject, repository: reference.name)
        await drain(response)
        return true
    }

    /// Downloads blob `descriptor` from `reference`'s repository into `sink`, mirrors first. Bytes stream
    /// through in chunks; a dropped connection resumes at `sink.offset` with a `Range` request. The sink is
    /// committed only when size and digest match, and aborted on any failure.
    package func fetchBlob(_ descriptor: Descriptor, from reference: Reference, into sink: inout some BlobSink) async throws {
        do {
            try await verifyHeld(descriptor, sink: &sink, reference: reference)
            if sink.offset == descriptor.size {
                try await sink.commit(descriptor)
                return
            }
            var meter = TransferMeter(descriptor, .download, done: sink.offset)
            let endpoints = settings.endpoints(for: reference, pull: true)
            for (i, endpoint) in endpoints.enumerated() {
                do {
                    try await fetchBlob(descriptor, from: reference, on: endpoint, into: &sink, meter: &meter)
                    try await sink.commit(descriptor)
                    meter?.finish()
                    return
                } catch let e as RegistryError where i < endpoints.count - 1 && e.code != .digestMismatch && e.code != .sizeMismatch {
                    // The next endpoint carries on from what this one delivered: content is addressed by digest.
                    continue
                }
            }
        } catch {
            await sink.abort()
            throw error
        }
    }

    /// A small blob (an image config) read into memory, verified.
    package func fetchBlobBytes(_ descriptor: Descriptor, from reference: Reference, limit: Int = 16 << 20) async throws -> [UInt8] {
        guard descriptor.size <= Int64(limit) else {
            throw RegistryError(.protocolError, "blob \(descriptor.digest) from \(reference.name) is larger than \(limit) bytes")
        }
        var sink = MemoryBlobSink()
        try await fetchBlob(descriptor, from: reference, into: &sink)
        return sink.bytes
    }

    /// Rejects a sink that already holds more than the blob, or a complete one that does not match.
    private func verifyHeld(_ descriptor: Descriptor, sink: inout some BlobSink, reference: Reference) async throws {
        if sink.offset > descriptor.size {
            throw RegistryError(.sizeMismatch, "blob \(descriptor.digest) from \(reference.name): partial download is larger than the blob")
        }
        if sink.offset == descriptor.size, try sink.heldDigest() != descriptor.digest {
            throw RegistryError(.digestMismatch, "blob \(descriptor.digest) from \(reference.name) does not match its digest")
        }
    }

    private func fetchBlob(_ descriptor: Descriptor, from reference: Reference, on endpoint: RegistryEndpoint,
                           into sink: inout some BlobSink, meter: inout TransferMeter?) async throws {
        let subject = "blob \(descriptor.digest) from \(reference.name)"
        var budget = RetryBudget(options.retry)
        while true {
            let start = sink.offset
            let response = try await openBlob(descriptor, reference: reference, endpoint: endpoint, from: start, subject: subject)
            // Bytes of the response to drop: a server that ignores Range sends the blob from its start.
            var skip: Int64 = 0
            switch response.status {
            case .ok:
                skip = start
            case .partialContent:
                guard let range = response.headers.first(name: "Content-Range"), RegistryClient.rangeStart(range) == start else {
                    await drain(response)
                    throw RegistryError(.protocolError, "\(subject): the registry answered a resumed download with the wrong range")
                }
            default:
                throw await failure(response, subject: subject, repository: reference.name)
            }
            do {
                for try await var buffer in response.body {
                    if skip > 0 {
                        let n = Int(min(skip, Int64(buffer.readableBytes)))
                        buffer.moveReaderIndex(forwardBy: n)
                        skip -= Int64(n)
                    }
                    guard buffer.readableBytes > 0 else { continue }
                    guard sink.offset + Int64(buffer.readableBytes) <= descriptor.size else {
                        throw RegistryError(.sizeMismatch, "\(subject) is larger than the \(descriptor.size) bytes its descriptor says")
                    }
                    do { try buffer.withUnsafeReadableBytes { try sink.write($0) } } catch { throw LocalWriteFailure(error: error) }
                    meter?.advance(to: sink.offset)
                }
            } catch let e as RegistryError {
                throw e
            } catch let failure as LocalWriteFailure {
                // The disk, not the network: a full disk says so, and retrying would only hide it.
                throw failure.error
            } catch {
                // The connection dropped mid-blob: go on from what arrived.
                if isRetriable(error), sink.offset < descriptor.size, await budget.shouldRetry() { continue }
                throw RegistryError(.network, "network: download of \(subject) failed after \(sink.offset) bytes: \(error)",
                                    underlying: error)
            }
            guard sink.offset == descriptor.size else {
                if sink.offset > start, await budget.shouldRetry() { continue }
                throw RegistryError(.sizeMismatch, "\(subject) ended after \(sink.offset) of \(descriptor.size) bytes")
            }
            guard try sink.heldDigest() == descriptor.digest else {
                throw RegistryError(.digestMismatch, "\(subject) does not match its digest")
            }
            return
        }
    }

    /// GET for the blob (from `offset` on), following redirects; credentials go only to the registry's own host.
    private func openBlob(_ descriptor: Descriptor, reference: Reference, endpoint: RegistryEndpoint, from offset: Int64,
                          subject: String) async throws -> HTTPClientResponse {
        var headers = HTTPHeaders()
        if offset > 0 { headers.add(name: "Range", value: "bytes=\(offset)-") }
        var request = Request(method: .GET, path: "/v2/\(reference.path)/blobs/\(descriptor.digest)", endpoint: endpoint,
                              headers: headers, scopes: RegistryClient.scopes(pull: reference.path), subject: subject, repository: reference.name)
        for _ in 0..<10 {
            let response = try await send(request)
            guard [301, 302, 303, 307, 308].contains(response.status.code),
                  let location = response.headers.first(name: "Location") else { return response }
            await drain(response)
            let target = resolveLocation(location, on: endpoint)
            request.path = target
            request.authenticate = RegistryClient.host(of: target) == endpoint.host
        }
        throw RegistryError(.protocolError, "\(subject): too many redirects")
    }

    /// The first byte of a `Content-Range: bytes a-b/c` value.
    static func rangeStart(_ header: String) -> Int64? {
        guard let r = header.range(of: "bytes ") else { return nil }
        return Int64(header[r.upperBound...].prefix { $0.isNumber })
    }

    /// An absolute URL for a `Location` header, which may be relative to the registry.
    func resolveLocation(_ location: String, on endpoint: RegistryEndpoint) -> String {
        if location.hasPrefix("http://") || location.hasPrefix("https://") { return location }
        return endpoint.base + (location.hasPrefix("/") ? location : "/" + location)
    }

    static func host(of url: String) -> String? {
        guard let r = url.range(of: "://") else { return nil }
        return String(url[r.upperBound...].prefix { $0 != "/" && $0 != "?" })
    }
}

/// Collects a small blob in memory (configs, manifests).
struct MemoryBlobSink: BlobSink {
    var bytes: [UInt8] = []
    var offset: Int64 { Int64(bytes.count) }
    func heldDigest() throws -> Digest { .sha256(of: bytes) }
    mutating func write(_ chunk: UnsafeRawBufferPointer) throws { bytes.append(contentsOf: chunk) }
    mutating func commit(_ descriptor: Descriptor) async throws {}
    mutating func abort() async { bytes = [] }
}

/// A write into the local sink that failed while a download was streaming (a full disk, a read-only state).
private struct LocalWriteFailure: Error {
    var error: any Error
}
