package import ImgOCI
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// How a blob came to be in the target repository.
package enum BlobPushOutcome: Sendable, Hashable {
    /// A HEAD found it already there.
    case existed
    /// Mounted from another repository (this path) on the same registry, no bytes sent.
    case mounted(from: String)
    case uploaded
}

extension RegistryClient {
    /// Makes blob `descriptor` present in `reference`'s repository: mounted from `mountFrom` (another
    /// repository of the same registry) when it can be, else skipped when it exists (checked first when
    /// `checkExists`, by default when there is nothing to mount from), else uploaded — monolithic for small blobs, in chunks above
    /// `options.chunkedUploadThreshold`.
    @discardableResult
    package func pushBlob(_ descriptor: Descriptor, content: BlobContent, to reference: Reference,
                          mountFrom: Reference? = nil, checkExists: Bool? = nil) async throws -> BlobPushOutcome {
        try await pushBlob(descriptor, contentWhenUploading: { content }, to: reference, mountFrom: mountFrom,
                           checkExists: checkExists)
    }

    /// `pushBlob`, asking for the content only when it is to be uploaded: a blob the store left in a
    /// registry (a lazy cache import) is fetched only if the target neither has it nor can mount it.
    @discardableResult
    package func pushBlob(_ descriptor: Descriptor, contentWhenUploading: @Sendable () async throws -> BlobContent,
                          to reference: Reference, mountFrom: Reference? = nil,
                          checkExists: Bool? = nil) async throws -> BlobPushOutcome {
        let mountable = mountFrom.flatMap { $0.domain == reference.domain && $0.path != reference.path ? $0 : nil }
        // With a repository to mount from, the mount request itself says whether the blob is there (201),
        // so the HEAD is skipped unless the caller expects the blob there already; a registry that cannot
        // mount opens an upload session instead.
        if checkExists ?? (mountable == nil), try await blobExists(descriptor.digest, in: reference) { return .existed }
        let endpoint = settings.endpoint(host: reference.registryHost)
        let subject = "blob \(descriptor.digest) to \(reference.name)"
        var scopes = RegistryClient.scopes(pull: reference.path, push: true)
        var path = "/v2/\(reference.path)/blobs/uploads/"
        if let from = mountable {
            path += "?mount=\(descriptor.digest)&from=\(from.path)"
            scopes += RegistryClient.scopes(pull: from.path)
        }
        let response = try await send(Request(method: .POST, path: path, endpoint: endpoint,
                                              scopes: scopes, subject: subject, repository: reference.name))
        if response.status == .created, let from = mountable { await drain(response); return .mounted(from: from.path) }
        // 202: an upload session (also what a registry answers when it cannot mount).
        try await expect(response, [.accepted], subject: subject, repository: reference.name)
        await drain(response)
        guard let location = response.headers.first(name: "Location") else {
            throw RegistryError(.protocolError, "\(subject): upload session has no Location")
        }
        let session = resolveLocation(location, on: endpoint)
        let content = try await contentWhenUploading()
        let meter = TransferMeter(descriptor, .upload).map(SharedTransferMeter.init)
        try await TransferProgress.$upload.withValue(meter) {
            if descriptor.size > options.chunkedUploadThreshold {
                try await uploadChunked(descriptor, content: content, session: session, reference: reference,
                                        endpoint: endpoint, subject: subject)
            } else {
                try await uploadMonolithic(descriptor, content: content, session: session, reference: reference,
                                           endpoint: endpoint, subject: subject)
            }
        }
        meter?.finish()
        return .uploaded
    }

    /// Asks the registry to link `digest` from `source` into `target` without sending bytes. False when it
    /// would not (the upload session it opened instead is left to expire).
    package func mountBlob(_ digest: Digest, from source: Reference, to target: Reference) async throws -> Bool {
        let endpoint = settings.endpoint(host: target.registryHost)
        let subject = "blob \(digest) to \(target.name)"
        let response = try await send(Request(method: .POST, path: "/v2/\(target.path)/blobs/uploads/?mount=\(digest)&from=\(source.path)",
                                              endpoint: endpoint,
                                              scopes: RegistryClient.scopes(pull: target.path, push: true)
                                                  + RegistryClient.scopes(pull: source.path),
                                              subject: subject, repository: target.name))
        if response.status == .created { await drain(response); return true }
        try await expect(response, [.accepted], subject: subject, repository: target.name)
        await drain(response)
        return false
    }

    /// One PUT carrying the whole blob.
    private func uploadMonolithic(_ descriptor: Descriptor, content: BlobContent, session: String, reference: Reference,
                                  endpoint: RegistryEndpoint, subject: String) async throws {
        let headers: HTTPHeaders = ["Content-Type": "application/octet-stream"]
        let response = try await send(Request(method: .PUT, path: RegistryClient.appendingDigest(descriptor.digest, to: session),
                                              endpoint: endpoint, headers: headers,
                                              body: RegistryClient.body(content, range: 0..<descriptor.size),
                                              scopes: RegistryClient.scopes(pull: reference.path, push: true),
                                              subject: subject, repository: reference.name))
        try await expectUploaded(response, descriptor: descriptor, reference: reference, subject: subject)
    }

    /// PATCH chunks with `Content-Range`, following each new `Location`, then PUT with the digest.
    private func uploadChunked(_ descriptor: Descriptor, content: BlobContent, session: String, reference: Reference,
                               endpoint: RegistryEndpoint, subject: String) async throws {
        var location = session
        var offset: Int64 = 0
        let scopes = RegistryClient.scopes(pull: reference.path, push: true)
        while offset < descriptor.size {
            let end = min(offset + options.uploadChunkSize, descriptor.size)
            // Content-Length comes from the body's known length.
            let headers: HTTPHeaders = ["Content-Type": "application/octet-stream", "Content-Range": "\(offset)-\(end - 1)"]
            let range = offset..<end
            let response = try await send(Request(method: .PATCH, path: location, endpoint: endpoint, headers: headers,
                                                  body: RegistryClient.body(content, range: range),
                                                  scopes: scopes, subject: subject, repository: reference.name))
            try await expect(response, [.accepted, .noContent], subject: subject, repository: reference.name)
            await drain(response)
            if let next = response.headers.first(name: "Location") { location = resolveLocation(next, on: endpoint) }
            offset = end
        }
        let response = try await send(Request(method: .PUT, path: RegistryClient.appendingDigest(descriptor.digest, to: location),
                                              endpoint: endpoint,
                                              scopes: scopes, subject: subject, repository: reference.name))
        try await expectUploaded(response, descriptor: descriptor, reference: reference, subject: subject)
    }

    private func expectUploaded(_ response: HTTPClientResponse, descriptor: Descriptor, reference: Reference,
                                subject: String) async throws {
        if response.status == .badRequest {
            // The registry checks the digest itself: DIGEST_INVALID / SIZE_INVALID.
            let body = (try? await response.body.collect(upTo: 64 << 10)).map { Array(buffer: $0) } ?? []
            let detail = RegistryErrorBody.message(from: body) ?? "bad request"
            throw RegistryError(.digestMismatch, "\(subject) was rejected by the registry: \(detail)")
        }
        try await expect(response, [.created, .noContent, .accepted], subject: subject, repository: reference.name)
        await drain(response)
    }

    static func appendingDigest(_ digest: Digest, to location: String) -> String {
        location + (location.contains("?") ? "&" : "?") + "digest=" + digest.description
    }

    /// A request body for `range` of the content; files are streamed from disk.
    static func body(_ content: BlobContent, range: Range<Int64>) -> RequestBody {
        switch content {
        case .bytes(let bytes):
            return .bytes(ByteBuffer(bytes: bytes[Int(range.lowerBound)..<Int(range.upperBound)]))
        case .file(let path):
            return .file(path: path, range: range)
        }
    }
}
