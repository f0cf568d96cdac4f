/// Media types img reads and writes. Kept as a string wrapper: registries send types we do not know, and
/// they must round-trip untouched.
package struct MediaType: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    package let rawValue: String
    package init(rawValue: String) { self.rawValue = rawValue }
    package init(stringLiteral value: String) { rawValue = value }
    package var description: String { rawValue }

    package init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    package static let ociIndex: MediaType = "application/vnd.oci.image.index.v1+json"
    package static let ociManifest: MediaType = "application/vnd.oci.image.manifest.v1+json"
    package static let ociConfig: MediaType = "application/vnd.oci.image.config.v1+json"
    package static let ociLayer: MediaType = "application/vnd.oci.image.layer.v1.tar"
    package static let ociLayerGzip: MediaType = "application/vnd.oci.image.layer.v1.tar+gzip"
    package static let ociLayerZstd: MediaType = "application/vnd.oci.image.layer.v1.tar+zstd"
    package static let ociEmpty: MediaType = "application/vnd.oci.empty.v1+json"

    package static let dockerManifestList: MediaType = "application/vnd.docker.distribution.manifest.list.v2+json"
    package static let dockerManifest: MediaType = "application/vnd.docker.distribution.manifest.v2+json"
    package static let dockerConfig: MediaType = "application/vnd.docker.container.image.v1+json"
    package static let dockerLayerGzip: MediaType = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    package static let dockerLayerZstd: MediaType = "application/vnd.docker.image.rootfs.diff.tar.zstd"
    package static let dockerForeignLayerGzip: MediaType = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

    /// An index or a manifest list: points at per-platform manifests.
    package var isIndex: Bool { self == .ociIndex || self == .dockerManifestList }
    /// A single-platform image manifest.
    package var isManifest: Bool { self == .ociManifest || self == .dockerManifest }
    package var isLayer: Bool {
        rawValue.hasPrefix("application/vnd.oci.image.layer.") || rawValue.hasPrefix("application/vnd.docker.image.rootfs.")
    }

    /// How a layer's bytes are compressed, judged by its media type.
    package var layerCompression: LayerCompression? {
        guard isLayer else { return nil }
        if rawValue.hasSuffix("+gzip") || rawValue.hasSuffix(".tar.gzip") { return .gzip }
        if rawValue.hasSuffix("+zstd") || rawValue.hasSuffix(".tar.zstd") { return .zstd }
        return .uncompressed
    }
}

package enum LayerCompression: String, Sendable, Hashable, CaseIterable {
    case uncompressed, gzip, zstd

    /// The OCI layer media type for this compression.
    package var ociLayerMediaType: MediaType {
        switch self {
        case .uncompressed: .ociLayer
        case .gzip: .ociLayerGzip
        case .zstd: .ociLayerZstd
        }
    }
}
