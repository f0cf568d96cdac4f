/// A single-platform image manifest (OCI or Docker schema 2; the two share this shape).
package struct Manifest: Sendable, Hashable, Codable {
    package var schemaVersion: Int = 2
    package var mediaType: MediaType?
    package var artifactType: String?
    package var config: Descriptor
    package var layers: [Descriptor]
    package var subject: Descriptor?
    package var annotations: [String: String]?

    package init(mediaType: MediaType = .ociManifest, config: Descriptor, layers: [Descriptor],
                 annotations: [String: String]? = nil) {
        self.mediaType = mediaType
        self.config = config
        self.layers = layers
        self.annotations = annotations
    }
}

/// An image index or Docker manifest list.
package struct Index: Sendable, Hashable, Codable {
    package var schemaVersion: Int = 2
    package var mediaType: MediaType?
    package var artifactType: String?
    package var manifests: [Descriptor]
    package var subject: Descriptor?
    package var annotations: [String: String]?

    package init(mediaType: MediaType = .ociIndex, manifests: [Descriptor], annotations: [String: String]? = nil) {
        self.mediaType = mediaType
        self.manifests = manifests
        self.annotations = annotations
    }

    /// The manifest for `platform`: the first entry that matches it exactly, else one whose variant is
    /// compatible.
    package func manifest(for platform: Platform) -> Descriptor? {
        let wanted = platform.normalized
        let candidates = manifests.filter { $0.mediaType.isManifest || $0.mediaType.isIndex }
        if let exact = candidates.first(where: { $0.platform?.normalized == wanted }) { return exact }
        return candidates.first { $0.platform?.matches(wanted) ?? false }
    }
}
