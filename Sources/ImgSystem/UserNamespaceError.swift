import Glibc
package import ImgErrors

/// Why img could not enter its user namespace; `description` is one line that says how to fix it.
package struct UserNamespaceError: ImgError, Hashable {
    package enum Code: String, Sendable, Hashable, CaseIterable {
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
    package var errorCode: String { code.rawValue }
    package var underlyingError: (any Error)? { cause }

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

    /// `newuidmap`/`newgidmap` ran and failed. Refused with EPERM, the usual cause is a container: the
    /// setuid helper runs as euid 0 but does not own the new namespace, and the container denies it
    /// CAP_SYS_ADMIN; file capabilities instead of the setuid bit are enough there.
    package static func mappingFailed(tool: String, detail: String) -> UserNamespaceError {
        var message = "\(tool) failed: \(detail): check that it is setuid root (reinstall Debian package uidmap) and that /etc/subuid and /etc/subgid ranges do not overlap other users'"
        if detail.contains("Operation not permitted") {
            let other = tool.hasSuffix("newuidmap") ? (tool.dropLast("newuidmap".count) + "newgidmap") : (tool.dropLast("newgidmap".count) + "newuidmap")
            let (uidTool, gidTool) = tool.hasSuffix("newuidmap") ? (tool, String(other)) : (String(other), tool)
            message += "; inside a container a setuid helper lacks CAP_SYS_ADMIN over img's namespace: give both file capabilities instead: chmod u-s \(uidTool) \(gidTool) && setcap cap_setuid+ep \(uidTool) && setcap cap_setgid+ep \(gidTool) (or run the container with CAP_SYS_ADMIN)"
        }
        return UserNamespaceError(.mappingFailed, message)
    }

    /// unshare(CLONE_NEWUSER) failed with `code`. EPERM is what docker's default seccomp profile answers
    /// (and a kernel sysctl), so the line names both fixes.
    static func refused(_ code: Int32) -> UserNamespaceError {
        let reason = String(cString: strerror(code))
        if code == EPERM {
            return UserNamespaceError(
                .userNamespacesDisabled,
                "cannot create a user namespace (unshare(CLONE_NEWUSER): \(reason)): in a container, run img with --security-opt seccomp=unconfined --security-opt apparmor=unconfined (Kubernetes: securityContext seccompProfile and appArmorProfile type Unconfined); on a host, enable them as root with sysctl kernel.unprivileged_userns_clone=1 and sysctl user.max_user_namespaces=28633")
        }
        return disabled("unshare(CLONE_NEWUSER): \(reason)")
    }

    static func disabled(_ why: String) -> UserNamespaceError {
        UserNamespaceError(
            .userNamespacesDisabled,
            "unprivileged user namespaces are disabled (\(why)): enable them as root with sysctl kernel.unprivileged_userns_clone=1 and sysctl user.max_user_namespaces=28633")
    }
}
