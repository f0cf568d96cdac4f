package import Foundation

/// A content descriptor: what a manifest or index says about a blob it points to.
package struct Descriptor: Sendable, Hashable, Codable {
    package var mediaType: MediaType
    package var digest: Digest
    package var size: Int64
    package var urls: [String]?
    package var annotations: [String: String]?
    package var platform: Platform?
    package var artifactType: String?
    /// The blob's bytes themselves, when the writer embedded them (OCI 1.1 `data`, base64); a reader
    /// checks them against `digest` before using them.
    package var data: Data?

    package init(mediaType: MediaType, digest: Digest, size: Int64, annotations: [String: String]? = nil,
                 platform: Platform? = nil) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.annotations = annotations
        self.platform = platform
    }

    enum CodingKeys: String, CodingKey { case mediaType, digest, size, urls, annotations, platform, artifactType, data }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        mediaType = try container.decode(MediaType.self, forKey: .mediaType)
        digest = try container.decode(Digest.self, forKey: .digest)
        size = try container.decode(Int64.self, forKey: .size)
        urls = try container.decodeIfPresent([String].self, forKey: .urls)
        annotations = try container.decodeIfPresent([String: String].self, forKey: .annotations)
        platform = try container.decodeIfPresent(Platform.self, forKey: .platform)
        artifactType = try container.decodeIfPresent(String.self, forKey: .artifactType)
        // Only an optimisation: embedded bytes that are not base64 are as if absent, not a broken document.
        data = try? container.decodeIfPresent(Data.self, forKey: .data)
    }

    /// The embedded bytes, when they are there and are this blob.
    package var verifiedData: Data? {
        guard let data, Int64(data.count) == size, Digest.sha256(of: data) == digest else { return nil }
        return data
    }
}
