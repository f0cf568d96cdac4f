/// Why img could not enter its user namespace; `description` is one line that says how to fix it.
package struct UserNamespaceError: Error, Sendable, Hashable, CustomStringConvertible {
    package enum Code: String, Sendable, Hashable {
        /// `newuidmap` or `newgidmap` is not on PATH.
        case uidmapMissing = "uidmap-missing"
        /// The user has no range in `/etc/subuid` or `/etc/subgid`.
        case noSubordinateIDs = "no-subordinate-ids"
        /// The kernel refuses unprivileged user namespaces.
        case userNamespacesDisabled = "userns-disabled"
        /// `newuidmap`/`newgidmap` ran and failed.
        case mappingFailed = "mapping-failed"
        /// Starting or talking to the re-executed process failed.
        case startFailed = "start-failed"
    }

    package var code: Code
    package var message: String
    package var cause: SystemError?

    package init(_ code: Code, _ message: String, cause: SystemError? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    package var description: String { message }

    static func uidmapMissing(_ tool: String) -> UserNamespaceError {
        UserNamespaceError(
            .uidmapMissing,
            "\(tool) not found on PATH; rootless img needs it to map ids: install Debian package uidmap (apt-get install uidmap)")
    }

    static func noSubordinateIDs(user: String, file: String) -> UserNamespaceError {
        UserNamespaceError(
            .noSubordinateIDs,
            "no subordinate id range for user \(user) in \(file): add one to /etc/subuid and /etc/subgid, e.g. usermod --add-subuids 100000-165535 --add-subgids 100000-165535 \(user)")
    }

    static func disabled(_ why: String) -> UserNamespaceError {
        UserNamespaceError(
            .userNamespacesDisabled,
            "unprivileged user namespaces are disabled (\(why)): enable them as root with sysctl kernel.unprivileged_userns_clone=1 and sysctl user.max_user_namespaces=28633")
    }
}
