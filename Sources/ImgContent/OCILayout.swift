package import ImgOCI

/// The OCI image layout in directory form: `oci-layout`, `index.json` and `blobs/<alg>/<hex>`.
package enum OCILayout {
    package static let version = "1.0.0"
    /// The spec's name for an entry of `index.json`; docker and BuildKit put the tag here.
    package static let refNameAnnotation = "org.opencontainers.image.ref.name"
    /// The full image name, as containerd, docker and BuildKit write it beside the tag.
    package static let imageNameAnnotation = "io.containerd.image.name"

    /// One entry of `index.json`: an image (index or manifest) and the name it is stored under.
    package struct Image: Sendable, Hashable {
        package var descriptor: Descriptor
        package var name: Reference?
        /// The raw `org.opencontainers.image.ref.name`, when reading a layout.
        package var refName: String?

        package init(descriptor: Descriptor, name: Reference?, refName: String? = nil) {
            self.descriptor = descriptor
            self.name = name
            self.refName = refName
        }
    }

    struct LayoutFile: Codable {
        var imageLayoutVersion: String
    }

    static func blobPath(_ directory: String, _ digest: Digest) -> String {
        "\(directory)/blobs/\(digest.algorithm.rawValue)/\(digest.hex)"
    }
}
