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
