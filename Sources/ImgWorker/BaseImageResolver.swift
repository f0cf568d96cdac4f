package import ImgOCI

/// A base image found in (or pulled into) the content store, resolved to one platform.
package struct BaseImage: Sendable {
    package var manifestDigest: Digest
    package var manifest: Manifest
    package var config: ImageConfig

    package init(manifestDigest: Digest, manifest: Manifest, config: ImageConfig) {
        self.manifestDigest = manifestDigest
        self.manifest = manifest
        self.config = config
    }
}

/// Finds the images FROM and COPY --from name: the local store first, a registry otherwise. The command
/// layer provides it (it owns registry settings and credentials).
package protocol BaseImageResolver: Sendable {
    func resolve(_ reference: String, platform: Platform) async throws -> BaseImage
}
