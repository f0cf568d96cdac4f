package import ImgOCI
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A manifest or index as the registry sent it: exact bytes (their digest is the image's identity) and the
/// descriptor that points at them.
package struct FetchedManifest: Sendable, Hashable {
    package var descriptor: Descriptor
    package var bytes: [UInt8]

    package init(descriptor: Descriptor, bytes: [UInt8]) {
        self.descriptor = descriptor
        self.bytes = bytes
    }

    package var isIndex: Bool { descriptor.mediaType.isIndex }
    package func decodeManifest() throws -> Manifest { try decode(Manifest.self) }
    package func decodeIndex() throws -> Index { try decode(Index.self) }

    private func decode<T: Decodable>(_ type: T.Type) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(bytes)) } catch {
            throw RegistryError(.protocolError, "manifest \(descriptor.digest) is not a valid \(descriptor.mediaType): \(error)",
                                underlying: error)
        }
    }
}

extension RegistryClient {
    /// Every manifest type img understands, so the registry never down-converts.
    static let manifestAccept = [MediaType.ociIndex, .ociManifest, .dockerManifestList, .dockerManifest]
        .map(\.rawValue).joined(separator: ", ")

    static func scopes(pull repository: String, push: Bool = false) -> [String] {
        ["repository:\(repository):" + (push ? "pull,push" : "pull")]
    }

    /// Fetches the manifest `reference` names (its digest if it has one, else its tag), trying mirrors first.
    /// A manifest fetched by digest must hash to that digest.
    package func fetchManifest(_ reference: Reference) async throws -> FetchedManifest {
        try await onPullEndpoints(reference) { endpoint in
            try await fetchManifest(reference, on: endpoint)
        }
    }

    func fetchManifest(_ reference: Reference, on endpoint: RegistryEndpoint) async throws -> FetchedManifest {
        let ref = reference.withDefaultTag
        var headers = HTTPHeaders()
        headers.add(name: "Accept", value: RegistryClient.manifestAccept)
        let response = try await send(Request(method: .GET, path: manifestPath(ref), endpoint: endpoint,
                                              headers: headers, scopes: RegistryClient.scopes(pull: ref.path),
                                              subject: ref.description, repository: ref.name))
        try await expect(response, [.ok], subject: ref.description, repository: ref.name)
        let bytes = try await readSmallBody(response, limit: options.maxManifestSize, subject: "manifest \(ref)")
        let computed = Digest.sha256(of: bytes)
        if let wanted = ref.digest, wanted != computed {
            throw RegistryError(.digestMismatch, "manifest \(wanted) from \(ref.name) does not match its digest")
        }
        let mediaType = RegistryClient.mediaType(of: bytes, contentType: response.headers.first(name: "Content-Type"))
        return FetchedManifest(descriptor: Descriptor(mediaType: mediaType, digest: computed, size: Int64(bytes.count)),
                               bytes: bytes)
    }

    /// The descriptor `reference` resolves to, from a HEAD request (nil when the registry has no such manifest).
    package func headManifest(_ reference: Reference) async throws -> Descriptor? {
        let ref = reference.withDefaultTag
        return try await onPullEndpoints(ref) { endpoint -> Descriptor? in
            var headers = HTTPHeaders()
            headers.add(name: "Accept", value: RegistryClient.manifestAccept)
            let response = try await send(Request(method: .HEAD, path: manifestPath(ref), endpoint: endpoint,
                                                  headers: headers, scopes: RegistryClient.scopes(pull: ref.path),
                                                  subject: ref.description, repository: ref.name))
            if response.status == .notFound { await drain(response); return nil }
            try await expect(response, [.ok], subject: ref.description, repository: ref.name)
            await drain(response)
            guard let digestText = response.headers.first(name: "Docker-Content-Digest"),
                  let digest = try? Digest(parsing: digestText),
                  let length = response.headers.first(name: "Content-Length").flatMap({ Int64($0) })
            else {
                // Without a digest header only a GET can tell.
                return try await fetchManifest(ref, on: endpoint).descriptor
            }
            let type = response.headers.first(name: "Content-Type").map { MediaType(rawValue: RegistryClient.bareType($0)) }
                ?? .ociManifest
            return Descriptor(mediaType: type, digest: digest, size: length)
        }
    }

    /// Uploads a manifest or index under `reference`'s tag (or its digest when it has no tag). The blobs and
    /// child manifests it points at must already be there. Returns the digest the registry stored.
    @discardableResult
    package func putManifest(_ bytes: [UInt8], mediaType: MediaType, to reference: Reference) async throws -> Digest {
        let digest = Digest.sha256(of: bytes)
        var ref = reference
        if ref.tag == nil { ref.digest = digest }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: mediaType.rawValue)
        let endpoint = settings.endpoint(host: reference.registryHost)
        let response = try await send(Request(method: .PUT, path: manifestPath(ref), endpoint: endpoint,
                                              headers: headers, body: .bytes(ByteBuffer(bytes: bytes)),
                                              scopes: RegistryClient.scopes(pull: ref.path, push: true),
                                              subject: ref.description, repository: ref.name))
        try await expect(response, [.created, .ok, .accepted], subject: ref.description, repository: ref.name)
        await drain(response)
        if let stored = response.headers.first(name: "Docker-Content-Digest"), let d = try? Digest(parsing: stored),
           d != digest {
            throw RegistryError(.digestMismatch, "manifest \(digest) pushed to \(ref.name) was stored as \(d)")
        }
        return digest
    }

    /// Tags in `repository` (one page, as many as the registry gives at once).
    package func listTags(_ repository: Reference) async throws -> [String] {
        try await onPullEndpoints(repository) { endpoint in
            let response = try await send(Request(method: .GET, path: "/v2/\(repository.path)/tags/list", endpoint: endpoint,
                                                  scopes: RegistryClient.scopes(pull: repository.path),
                                                  subject: repository.name, repository: repository.name))
            try await expect(response, [.ok], subject: repository.name, repository: repository.name)
            let body = try await readSmallBody(response, limit: 16 << 20, subject: "tags of \(repository.name)")
            struct Tags: Decodable { var tags: [String]? }
            guard let tags = try? JSONDecoder().decode(Tags.self, from: Data(body)) else {
                throw RegistryError(.protocolError, "registry sent an invalid tag list for \(repository.name)")
            }
            return tags.tags ?? []
        }
    }

    func manifestPath(_ ref: Reference) -> String {
        "/v2/\(ref.path)/manifests/\(ref.digest?.description ?? ref.tag ?? Reference.defaultTag)"
    }

    /// Runs `body` against each pull endpoint (mirrors first) until one succeeds; the registry's own error is
    /// the one reported.
    func onPullEndpoints<T: Sendable>(_ reference: Reference,
                                      _ body: (RegistryEndpoint) async throws -> T) async throws -> T {
        let endpoints = settings.endpoints(for: reference, pull: true)
        for endpoint in endpoints.dropLast() {
            do { return try await body(endpoint) } catch let e as RegistryError where e.code != .digestMismatch {
                continue
            }
        }
        return try await body(endpoints[endpoints.count - 1])
    }

    /// `Content-Type` without parameters.
    static func bareType(_ contentType: String) -> String {
        String(contentType.split(separator: ";").first ?? "").trimmingCharacters(in: .whitespaces)
    }

    /// The media type of a manifest: the `Content-Type` when specific, else the document's own `mediaType`,
    /// else guessed from its shape.
    static func mediaType(of bytes: [UInt8], contentType: String?) -> MediaType {
        if let contentType {
            let type = MediaType(rawValue: bareType(contentType))
            if type.isIndex || type.isManifest { return type }
        }
        struct Shape: Decodable {
            var mediaType: MediaType?
            var manifests: [Descriptor]?
        }
        let shape = try? JSONDecoder().decode(Shape.self, from: Data(bytes))
        if let type = shape?.mediaType { return type }
        return shape?.manifests != nil ? .ociIndex : .ociManifest
    }
}
