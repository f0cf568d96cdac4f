package import ImgGraph
package import ImgOCI

/// The exec op: a command in a container over the parent's filesystem, with its mounts, network and
/// security mode. What only the parent's config decides (SHELL, ENV, WORKDIR, USER) is resolved by the
/// worker and passed to `cacheKey`.
package struct ExecOp: Sendable, Hashable {
    /// The script or argument vector; RUN heredocs are already folded into the script.
    package var command: CommandForm
    package var mounts: [Mount]
    package var network: Network
    package var security: Security

    /// `default`: the build's `--network` (the worker resolves it before keying the step).
    package enum Network: String, Sendable, Hashable {
        case `default`, host, none
    }

    package enum Security: String, Sendable, Hashable {
        case sandbox, insecure
    }

    package init(command: CommandForm, mounts: [Mount] = [], network: Network = .default, security: Security = .sandbox) {
        self.command = command
        self.mounts = mounts
        self.network = network
        self.security = security
    }

    /// One mount of the step, with the defaults of its kind already applied.
    package struct Mount: Sendable, Hashable {
        package enum Kind: String, Sendable, Hashable {
            case bind, cache, tmpfs, secret, ssh
        }

        package enum Sharing: String, Sendable, Hashable {
            case shared, `private`, locked
        }

        package var kind: Kind
        package var target: String?
        package var source: String?
        /// `from=` as written, and the stage it names among the vertex's inputs (nil: not a stage).
        package var from: String?
        package var fromInput: StageInput?
        package var readOnly: Bool
        /// Cache id, secret id or ssh id.
        package var id: String?
        package var sharing: Sharing
        package var mode: UInt32?
        package var uid: Int?
        package var gid: Int?
        package var required: Bool
        /// tmpfs size in bytes.
        package var size: Int64?
        /// secret: the environment variable that receives the value.
        package var env: String?

        package init(kind: Kind, target: String? = nil, source: String? = nil, from: String? = nil,
                     fromInput: StageInput? = nil, readOnly: Bool = false, id: String? = nil,
                     sharing: Sharing = .shared, mode: UInt32? = nil, uid: Int? = nil, gid: Int? = nil,
                     required: Bool = false, size: Int64? = nil, env: String? = nil) {
            self.kind = kind
            self.target = target
            self.source = source
            self.from = from
            self.fromInput = fromInput
            self.readOnly = readOnly
            self.id = id
            self.sharing = sharing
            self.mode = mode
            self.uid = uid
            self.gid = gid
            self.required = required
            self.size = size
            self.env = env
        }

        /// What of the mount joins the step's key. Secrets are named by id only: their values never do.
        var keyFields: [String] {
            [kind.rawValue, target ?? "", source ?? "", from ?? "", id ?? "", readOnly ? "ro" : "rw", sharing.rawValue,
             mode.map { String($0, radix: 8) } ?? "", uid.map(String.init) ?? "", gid.map(String.init) ?? "", env ?? ""]
        }
    }

    /// What the worker resolves from the parent before the step can be keyed.
    package struct Inputs: Sendable {
        package var parent: Digest
        package var platform: Platform
        package var arguments: [String]
        package var environment: [String]
        package var workingDirectory: String
        package var user: String
        /// The keys of the stages the step mounts, in the vertex's input order.
        package var stageInputs: [Digest]
        /// `--add-host` names (not addresses: as BuildKit, an address that differs between machines does not
        /// split the cache), `--shm-size` and `--ulimit` (`nofile=1024:2048`); keyed only when set, so other
        /// steps keep their keys.
        package var extraHostNames: [String] = []
        package var shmSize: Int64?
        package var ulimits: [String] = []

        package init(parent: Digest, platform: Platform, arguments: [String], environment: [String],
                     workingDirectory: String, user: String, stageInputs: [Digest], extraHostNames: [String] = [],
                     shmSize: Int64? = nil, ulimits: [String] = []) {
            self.extraHostNames = extraHostNames
            self.shmSize = shmSize
            self.ulimits = ulimits
            self.parent = parent
            self.platform = platform
            self.arguments = arguments
            self.environment = environment
            self.workingDirectory = workingDirectory
            self.user = user
            self.stageInputs = stageInputs
        }
    }

    /// The step's cache key: the parent, the command as it will run and everything that changes what it sees.
    package func cacheKey(_ inputs: Inputs) -> CacheKeyBuilder {
        var key = CacheKeyBuilder(kind: "run")
        key.add("parent", inputs.parent)
        key.add("platform", inputs.platform.description)
        key.add("command", inputs.arguments)
        key.add("env", inputs.environment)
        key.add("workdir", inputs.workingDirectory)
        key.add("user", inputs.user)
        // `default` never reaches here resolved as such; were it to, it is keyed as the host's network it means.
        key.add("network", network == .none ? "none" : "host")
        // Only when insecure, so the keys of sandboxed steps stay those of earlier builds.
        if security == .insecure { key.add("security", security.rawValue) }
        for mount in mounts { key.add("mount", mount.keyFields) }
        for stage in inputs.stageInputs { key.add("stage-input", stage) }
        if !inputs.extraHostNames.isEmpty { key.add("add-host", inputs.extraHostNames) }
        if let size = inputs.shmSize { key.add("shm-size", String(size)) }
        if !inputs.ulimits.isEmpty { key.add("ulimit", inputs.ulimits) }
        return key
    }

    /// docker's history text: `RUN /bin/sh -c make # buildkit`.
    package func createdBy(shell: [String]?) -> String {
        "RUN " + command.arguments(shell: shell).joined(separator: " ") + " # buildkit"
    }
}
