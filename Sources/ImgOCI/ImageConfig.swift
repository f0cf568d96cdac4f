/// The image configuration blob (OCI image config, which Docker's shares).
package struct ImageConfig: Sendable, Hashable, Codable {
    package var created: String?
    package var author: String?
    package var architecture: String
    package var os: String
    package var variant: String?
    package var osVersion: String?
    package var config: ContainerConfig?
    package var rootfs: RootFS
    package var history: [History]?

    enum CodingKeys: String, CodingKey {
        case created, author, architecture, os, variant, config, rootfs, history
        case osVersion = "os.version"
    }

    package init(platform: Platform, config: ContainerConfig? = nil, rootfs: RootFS = RootFS(diffIDs: []),
                 history: [History]? = nil, created: String? = nil) {
        architecture = platform.architecture
        os = platform.os
        variant = platform.variant
        self.config = config
        self.rootfs = rootfs
        self.history = history
        self.created = created
    }

    package var platform: Platform { Platform(os: os, architecture: architecture, variant: variant) }
}

/// The run-time defaults of an image (`config` in the image config).
package struct ContainerConfig: Sendable, Hashable, Codable {
    package var user: String?
    package var exposedPorts: [String: EmptyObject]?
    package var env: [String]?
    package var entrypoint: [String]?
    package var cmd: [String]?
    package var volumes: [String: EmptyObject]?
    package var workingDir: String?
    package var labels: [String: String]?
    package var stopSignal: String?
    package var shell: [String]?
    package var onBuild: [String]?
    package var healthcheck: Healthcheck?
    package var argsEscaped: Bool?

    enum CodingKeys: String, CodingKey {
        case user = "User", exposedPorts = "ExposedPorts", env = "Env", entrypoint = "Entrypoint", cmd = "Cmd"
        case volumes = "Volumes", workingDir = "WorkingDir", labels = "Labels", stopSignal = "StopSignal"
        case shell = "Shell", onBuild = "OnBuild", healthcheck = "Healthcheck", argsEscaped = "ArgsEscaped"
    }

    package init() {}
}

/// Docker's health check settings; durations in nanoseconds as docker stores them.
package struct Healthcheck: Sendable, Hashable, Codable {
    package var test: [String]?
    package var interval: Int64?
    package var timeout: Int64?
    package var startPeriod: Int64?
    package var startInterval: Int64?
    package var retries: Int?

    enum CodingKeys: String, CodingKey {
        case test = "Test", interval = "Interval", timeout = "Timeout", startPeriod = "StartPeriod"
        case startInterval = "StartInterval", retries = "Retries"
    }

    package init(test: [String]?) { self.test = test }
}

/// `{}` — the value type of `ExposedPorts` and `Volumes` maps.
package struct EmptyObject: Sendable, Hashable, Codable {
    package init() {}
}

package struct RootFS: Sendable, Hashable, Codable {
    package var type: String = "layers"
    package var diffIDs: [Digest]
    enum CodingKeys: String, CodingKey {
        case type
        case diffIDs = "diff_ids"
    }
    package init(diffIDs: [Digest]) { self.diffIDs = diffIDs }
}

/// One step of the image's history, as `docker history` shows it.
package struct History: Sendable, Hashable, Codable {
    package var created: String?
    package var createdBy: String?
    package var author: String?
    package var comment: String?
    package var emptyLayer: Bool?
    enum CodingKeys: String, CodingKey {
        case created, author, comment
        case createdBy = "created_by"
        case emptyLayer = "empty_layer"
    }
    package init(created: String? = nil, createdBy: String?, comment: String? = nil, emptyLayer: Bool? = nil) {
        self.created = created
        self.createdBy = createdBy
        self.comment = comment
        self.emptyLayer = emptyLayer
    }
}
