import ImgFrontend
import ImgGraph
import ImgOCI

extension BuildWorker {
    /// The image source op: an empty image, a base image (local store first, else pulled), or another
    /// stage's result.
    func from(_ vertex: Int, _ step: BuildStep, _ source: ImageSource, inputs: [BuildState]) async throws -> BuildState {
        let wanted = source.platform ?? options.platform
        switch source {
        case .stage:
            // The parent stage's image is this stage's start; same content, same key.
            var state = inputs[0]
            state.cmdSetInStage = false
            return state
        case .scratch:
            var config = ImageConfig(platform: wanted)
            config.config = ContainerConfig()
            config.config?.env = ["PATH=\(Self.defaultPath)"]
            // BuildKit starts every scratch image in "/" (difference 1 of issue 15).
            config.config?.workingDir = "/"
            config.history = []
            return BuildState(cacheKey: ImageSource.scratchKey(platform: wanted).finish(), layers: [], config: config,
                              cached: true)
        case .image(let name, _):
            return try await shown(vertex, step) {
                let image: BaseImage
                do { image = try await images.resolve(name, platform: wanted) } catch {
                    throw self.error(step, "FROM \(name): \(error)")
                }
                materials.add(.image(name, platform: wanted, manifest: image.manifestDigest))
                guard image.manifest.layers.count == image.config.rootfs.diffIDs.count else {
                    throw self.error(step, "FROM \(name): the image lists \(image.config.rootfs.diffIDs.count) diff_ids for \(image.manifest.layers.count) layers")
                }
                let layers = zip(image.manifest.layers, image.config.rootfs.diffIDs).map {
                    LayerRecord(descriptor: $0, diffID: $1)
                }
                var config = image.config
                if config.config == nil { config.config = ContainerConfig() }
                if config.config?.env == nil { config.config?.env = ["PATH=\(Self.defaultPath)"] }
                // The triggers ran in this build (the frontend put them after FROM); the child image does
                // not carry them on, as docker does.
                config.config?.onBuild = nil
                return BuildState(cacheKey: ImageSource.imageKey(manifest: image.manifestDigest, platform: wanted).finish(),
                                  layers: layers, config: config, baseDigest: image.manifestDigest)
            }
        }
    }

    /// docker's default PATH for images that set none.
    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
}
