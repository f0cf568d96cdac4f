/// `linux`: namespaces and the paths hidden from the container. No `resources` and no `cgroupsPath`: img
/// sets no limits, so runc needs no writable cgroup (rootless runc then skips cgroups altogether), and no
/// `uidMappings`: rootless img runs runc inside its own user namespace, which already maps 65537 ids.
package struct RuntimeLinux: Sendable, Hashable, Codable {
    package var namespaces: [RuntimeNamespace]
    package var maskedPaths: [String]?
    package var readonlyPaths: [String]?
    /// The system-call filter; nil runs the step unfiltered.
    package var seccomp: SeccompProfile?

    package init(namespaces: [RuntimeNamespace], maskedPaths: [String]? = nil, readonlyPaths: [String]? = nil,
                 seccomp: SeccompProfile? = nil) {
        self.namespaces = namespaces
        self.maskedPaths = maskedPaths
        self.readonlyPaths = readonlyPaths
        self.seccomp = seccomp
    }

    /// Docker's defaults: kernel interfaces a build step has no business reading or changing.
    package static let defaultMaskedPaths = [
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    ]
    package static let defaultReadonlyPaths = [
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
    ]
}

/// An entry of `linux.namespaces`: a new namespace of `type` (no `path`: img never joins existing ones).
package struct RuntimeNamespace: Sendable, Hashable, Codable {
    package enum Kind: String, Sendable, Hashable, Codable {
        case pid, network, mount, ipc, uts, user, cgroup
    }

    package var type: Kind

    package init(_ type: Kind) { self.type = type }
}
