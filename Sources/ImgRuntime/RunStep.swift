/// One RUN step, as the worker hands it to the executor.
package struct RunStep: Sendable, Hashable {
    /// What to run.
    package enum Command: Sendable, Hashable, CustomStringConvertible {
        /// Shell form: `shell + [script]` (the image's SHELL, `["/bin/sh", "-c"]` by default).
        case shell(String, shell: [String] = ["/bin/sh", "-c"])
        /// Exec form: the argument vector as written.
        case exec([String])

        package var arguments: [String] {
            switch self {
            case .shell(let script, let shell): shell + [script]
            case .exec(let arguments): arguments
            }
        }

        /// The command as the user wrote it, for messages.
        package var description: String {
            switch self {
            case .shell(let script, _): script
            case .exec(let arguments): "[" + arguments.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
            }
        }
    }

    /// The step's network.
    package enum Network: String, Sendable, Hashable {
        /// The host's network (the default for builds).
        case host
        /// A new network namespace with only loopback.
        case none
    }

    /// The step's sandbox (`RUN --security=`).
    package enum Security: String, Sendable, Hashable {
        /// Docker's default capabilities and seccomp filter.
        case sandbox
        /// Every capability and no seccomp filter (`--allow security.insecure` granted it).
        case insecure
    }

    /// An extra mount for the step (what `RUN --mount` turns into).
    package struct Mount: Sendable, Hashable {
        package enum Kind: Sendable, Hashable {
            case bind(source: String, readOnly: Bool)
            case tmpfs(options: [String])
        }

        package var destination: String
        package var kind: Kind

        package init(destination: String, kind: Kind) {
            self.destination = destination
            self.kind = kind
        }
    }

    /// An `--add-host` entry: a line `IP NAME` in the step's `/etc/hosts`.
    package struct ExtraHost: Sendable, Hashable {
        package var name: String
        package var address: String

        package init(name: String, address: String) {
            self.name = name
            self.address = address
        }
    }

    /// A `--ulimit` entry: `process.rlimits` of the step (`RLIMIT_` + the upper-cased docker name).
    package struct Ulimit: Sendable, Hashable {
        /// Docker's name (`nofile`, `nproc`, ...).
        package var name: String
        package var soft: UInt64
        package var hard: UInt64

        package init(name: String, soft: UInt64, hard: UInt64) {
            self.name = name
            self.soft = soft
            self.hard = hard
        }

        /// Docker's names, each with its kernel `RLIMIT_` number.
        package static let names: [String: Int32] = [
            "cpu": 0, "fsize": 1, "data": 2, "stack": 3, "core": 4, "rss": 5, "nproc": 6, "nofile": 7,
            "memlock": 8, "as": 9, "locks": 10, "sigpending": 11, "msgqueue": 12, "nice": 13, "rtprio": 14,
            "rttime": 15,
        ]

        /// The OCI type, `RLIMIT_NOFILE`.
        package var type: String { "RLIMIT_" + name.uppercased() }
    }

    /// Absolute host path of the root filesystem the step runs in, writable.
    package var rootfs: String
    package var command: Command
    /// `NAME=value` strings. `PATH` is added (docker's default) when missing, `HOME` from the user's
    /// passwd entry.
    package var environment: [String]
    /// Absolute path inside the container.
    package var workingDirectory: String
    /// The Dockerfile `USER` value, `name[:group]` or numeric `uid[:gid]`; nil is root.
    package var user: String?
    package var hostname: String
    package var network: Network
    package var security: Security
    package var mounts: [Mount]
    /// `--add-host`: extra `/etc/hosts` lines; none keeps the host's file as it is.
    package var extraHosts: [ExtraHost] = []
    /// `--shm-size` in bytes; nil is docker's 64 MiB.
    package var shmSize: Int64?
    /// `--ulimit`: resource limits of the step's processes; none inherits img's.
    package var ulimits: [Ulimit] = []

    package init(
        rootfs: String, command: Command, environment: [String] = [], workingDirectory: String = "/",
        user: String? = nil, hostname: String = "img", network: Network = .host, security: Security = .sandbox,
        mounts: [Mount] = []
    ) {
        self.rootfs = rootfs
        self.command = command
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.user = user
        self.hostname = hostname
        self.network = network
        self.security = security
        self.mounts = mounts
    }
}
