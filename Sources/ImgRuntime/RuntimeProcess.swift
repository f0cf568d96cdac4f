/// `process`: what runs in the container.
package struct RuntimeProcess: Sendable, Hashable, Codable {
    package var terminal: Bool = false
    package var user: RuntimeUser
    package var args: [String]
    package var env: [String]
    package var cwd: String
    package var capabilities: RuntimeCapabilities?
    package var noNewPrivileges: Bool?
    package var rlimits: [RuntimeRlimit]?

    package init(user: RuntimeUser, args: [String], env: [String], cwd: String, capabilities: RuntimeCapabilities?) {
        self.user = user
        self.args = args
        self.env = env
        self.cwd = cwd
        self.capabilities = capabilities
    }
}

/// `process.user`: numeric ids, already resolved against the image's `/etc/passwd` and `/etc/group`.
package struct RuntimeUser: Sendable, Hashable, Codable {
    package var uid: UInt32
    package var gid: UInt32
    package var additionalGids: [UInt32]?

    package init(uid: UInt32, gid: UInt32, additionalGids: [UInt32]? = nil) {
        self.uid = uid
        self.gid = gid
        self.additionalGids = additionalGids
    }
}

/// `process.capabilities`: the sets, by `CAP_` name.
package struct RuntimeCapabilities: Sendable, Hashable, Codable {
    package var bounding: [String]
    package var effective: [String]
    package var permitted: [String]

    /// The same names in the bounding, effective and permitted sets (no inheritable or ambient ones: a
    /// non-root user in the container gets none, as with docker).
    package init(_ names: [String]) {
        bounding = names
        effective = names
        permitted = names
    }

    /// `capabilities` in the three sets, in the kernel's order.
    package init(_ capabilities: Set<Capability>) {
        self.init(capabilities.sorted().map(\.name))
    }

    /// Docker's default set, which Dockerfile RUN steps are written against.
    package static let dockerDefault = RuntimeCapabilities(Capability.dockerDefault)
}

/// `process.rlimits`: one resource limit (`RLIMIT_NOFILE`, ...).
package struct RuntimeRlimit: Sendable, Hashable, Codable {
    package var type: String
    package var soft: UInt64
    package var hard: UInt64

    package init(type: String, soft: UInt64, hard: UInt64) {
        self.type = type
        self.soft = soft
        self.hard = hard
    }
}
