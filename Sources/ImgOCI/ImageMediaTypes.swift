/// Docker's or OCI's media types for an image the build writes.
package enum ImageMediaTypes: Sendable, Hashable {
    case docker, oci

    package var manifest: MediaType { self == .docker ? .dockerManifest : .ociManifest }
    package var config: MediaType { self == .docker ? .dockerConfig : .ociConfig }

    /// The media type a stored layer of `stored`'s compression has in an image of these types.
    package func layer(_ stored: MediaType) -> MediaType {
        switch (self, stored.layerCompression ?? .gzip) {
        case (.oci, .gzip): return .ociLayerGzip
        case (.oci, .zstd): return .ociLayerZstd
        case (.oci, .uncompressed): return .ociLayer
        case (.docker, .gzip): return .dockerLayerGzip
        case (.docker, .zstd): return .dockerLayerZstd
        case (.docker, .uncompressed): return "application/vnd.docker.image.rootfs.diff.tar"
        }
    }
}
