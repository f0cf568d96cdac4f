package import ImgOCI
import ImgSnapshot

/// A layer of a build result: the compressed blob in the content store and its uncompressed digest.
package struct LayerRecord: Sendable, Hashable {
    package var descriptor: Descriptor
    package var diffID: Digest

    package init(descriptor: Descriptor, diffID: Digest) {
        self.descriptor = descriptor
        self.diffID = diffID
    }
}

/// What a step produces: the image so far (layers + config, history included) and its cache key.
package struct BuildState: Sendable {
    package var cacheKey: Digest
    package var layers: [LayerRecord]
    package var config: ImageConfig
    /// The base image's manifest digest, for `FROM image` steps (what the key was made of).
    package var baseDigest: Digest?
    /// True when the step's result came from the cache.
    package var cached: Bool
    /// Whether this stage set CMD itself (ENTRYPOINT then keeps it; otherwise ENTRYPOINT clears the base's).
    package var cmdSetInStage = false

    package init(cacheKey: Digest, layers: [LayerRecord], config: ImageConfig, baseDigest: Digest? = nil,
                 cached: Bool = false) {
        self.cacheKey = cacheKey
        self.layers = layers
        self.config = config
        self.baseDigest = baseDigest
        self.cached = cached
    }

    package var container: ContainerConfig {
        get { config.config ?? ContainerConfig() }
        set { config.config = newValue }
    }

    /// The layers as the snapshotter wants them.
    func layerBlobs(content path: (Digest) -> String) -> [LayerBlob] {
        layers.map { LayerBlob(path: path($0.descriptor.digest), diffID: $0.diffID, label: "layer \($0.descriptor.digest)") }
    }

    /// Appends a layer and its history entry, keeping `rootfs.diff_ids` in step.
    mutating func append(_ layer: LayerRecord, createdBy: String, created: String?) {
        layers.append(layer)
        config.rootfs.diffIDs.append(layer.diffID)
        config.history = (config.history ?? []) + [History(created: created, createdBy: createdBy)]
    }

    /// A metadata-only step: history with `empty_layer`.
    mutating func appendEmpty(createdBy: String, created: String?) {
        config.history = (config.history ?? []) + [History(created: created, createdBy: createdBy, emptyLayer: true)]
    }
}
