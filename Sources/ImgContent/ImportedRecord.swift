package import ImgOCI

/// A result an imported build cache (`--cache-from`) recorded in the local cache: its local cache record's manifest (stored) and what it says.
package struct ImportedRecord: Sendable {
    package var descriptor: Descriptor
    package var manifest: Manifest
    package var config: ImageConfig

    package init(descriptor: Descriptor, manifest: Manifest, config: ImageConfig) {
        self.descriptor = descriptor
        self.manifest = manifest
        self.config = config
    }
}
