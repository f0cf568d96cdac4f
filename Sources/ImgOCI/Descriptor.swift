/// A content descriptor: what a manifest or index says about a blob it points to.
package struct Descriptor: Sendable, Hashable, Codable {
    package var mediaType: MediaType
    package var digest: Digest
    package var size: Int64
    package var urls: [String]?
    package var annotations: [String: String]?
    package var platform: Platform?
    package var artifactType: String?

    package init(mediaType: MediaType, digest: Digest, size: Int64, annotations: [String: String]? = nil,
                 platform: Platform? = nil) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.annotations = annotations
        self.platform = platform
    }
}
