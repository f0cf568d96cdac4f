package import ImgOCI
package import ImgRuntime

/// What one build asked for that changes how steps run.
package struct WorkerOptions: Sendable {
    package var platform: Platform
    /// How the Dockerfile is named in messages (`Dockerfile`, `docker/app.Dockerfile`).
    package var dockerfileName: String
    package var noCache: Bool
    package var compression: LayerCompression
    /// `compression-level=`: nil is the compression's default.
    package var compressionLevel: Int?
    /// `SOURCE_DATE_EPOCH`: clamps layer mtimes and sets the `created` times.
    package var sourceDateEpoch: Int64?
    /// `--secret id=...`: secret id → host file holding the value (env secrets are written to a private
    /// temp file by the caller).
    package var secrets: [String: String]
    /// `--ssh ID[=...]`: ssh id → the agent socket RUN --mount=type=ssh relays to.
    package var sshAgents: [String: String]
    /// `--allow`: what the build may do beyond the default sandbox.
    package var entitlements: Set<Entitlement>
    /// `--network`: the network of a RUN that names none (or `default`).
    package var network: RunStep.Network = .host
    /// `--add-host`: extra `/etc/hosts` lines of every RUN.
    package var extraHosts: [RunStep.ExtraHost] = []
    /// `--shm-size` in bytes; nil is 64 MiB.
    package var shmSize: Int64?
    /// `--ulimit`: resource limits of every RUN.
    package var ulimits: [RunStep.Ulimit] = []
    /// `--no-cache-filter`: the stages (by name, or index as a string) whose steps never take a cached result.
    package var noCacheStages: Set<String> = []

    package init(platform: Platform, dockerfileName: String = "Dockerfile", noCache: Bool = false,
                 compression: LayerCompression = .gzip, compressionLevel: Int? = nil, sourceDateEpoch: Int64? = nil,
                 secrets: [String: String] = [:], sshAgents: [String: String] = [:],
                 entitlements: Set<Entitlement> = [], network: RunStep.Network = .host,
                 extraHosts: [RunStep.ExtraHost] = [], shmSize: Int64? = nil, ulimits: [RunStep.Ulimit] = [],
                 noCacheStages: Set<String> = []) {
        self.network = network
        self.extraHosts = extraHosts
        self.shmSize = shmSize
        self.ulimits = ulimits
        self.noCacheStages = noCacheStages
        self.entitlements = entitlements
        self.compressionLevel = compressionLevel
        self.sshAgents = sshAgents
        self.platform = platform
        self.dockerfileName = dockerfileName
        self.noCache = noCache
        self.compression = compression
        self.sourceDateEpoch = sourceDateEpoch
        self.secrets = secrets
    }
}

/// A privilege `img build --allow` grants, named as buildx names it.
package enum Entitlement: String, Sendable, Hashable, CaseIterable {
    /// `RUN --security=insecure` runs with every capability and no seccomp filter.
    case securityInsecure = "security.insecure"
    /// `RUN --network=host`; img's default network is the host's already, so it changes nothing, but
    /// buildx's command lines pass it.
    case networkHost = "network.host"
}
