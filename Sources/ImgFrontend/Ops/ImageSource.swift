import ImgDockerfile
package import ImgGraph
package import ImgOCI

/// The image source op: where a stage starts.
package enum ImageSource: Sendable, Hashable {
    /// An empty filesystem.
    case scratch(platform: Platform?)
    /// An image reference (after ARG expansion), from the store or a registry.
    case image(String, platform: Platform?)
    /// The result of an earlier stage (this vertex's input 0), unchanged.
    case stage

    /// `--platform` of the FROM line, if any.
    package var platform: Platform? {
        switch self {
        case .scratch(let platform), .image(_, let platform): platform
        case .stage: nil
        }
    }

    /// The key of an empty image for `platform`.
    package static func scratchKey(platform: Platform) -> CacheKeyBuilder {
        var key = CacheKeyBuilder(kind: "scratch")
        key.add("platform", platform.description)
        // The start config changed (WorkingDir "/"): steps cached on the old one must not be reused.
        key.add("workdir", "/")
        return key
    }

    /// The key of a base image: the manifest it resolved to (not the name, which may move) and the platform.
    package static func imageKey(manifest: Digest, platform: Platform) -> CacheKeyBuilder {
        var key = CacheKeyBuilder(kind: "image")
        key.add("manifest", manifest)
        key.add("platform", platform.description)
        return key
    }
}

extension Platform {
    /// The platform this machine runs natively (what `--platform` defaults to).
    package static var host: Platform {
        let host = BuildPlatform.host
        return Platform(os: host.os, architecture: host.architecture, variant: host.variant)
    }
}
