package import ImgSystem

/// What the place img runs in lets a RUN step have, beyond the usual sandbox.
package struct StepIsolation: Sendable, Hashable {
    /// A PID namespace and a fresh `/proc` of the step's own. False inside a container whose runtime masks
    /// parts of `/proc` (the kernel then refuses a fresh proc mount): the step shares img's PID namespace and
    /// gets the outer `/proc` bound in, read-only, as BuildKit's `--oci-worker-no-process-sandbox` does. A
    /// step can then see img's processes and signal those of its user.
    package var ownProcesses: Bool
    /// Only id 0 exists (img's single-id user namespace): the step must run as root, with no
    /// supplementary groups, and `/dev/pts` cannot be given group 5.
    package var singleID: Bool

    package init(ownProcesses: Bool = true, singleID: Bool = false) {
        self.ownProcesses = ownProcesses
        self.singleID = singleID
    }

    /// As this process stands (what the shim found and entered at start-up).
    package static var current: StepIsolation {
        StepIsolation(ownProcesses: UserNamespace.freshProcAllowed, singleID: UserNamespace.mapping == .single)
    }

    /// One line for `-d`.
    package var description: String {
        ownProcesses
            ? "full: each RUN step has its own PID namespace and /proc"
            : "process sandbox off: /proc is masked by the container runtime, so a fresh one cannot be mounted; RUN steps share img's PID namespace and see the outer /proc read-only (they can see img's processes); unmask /proc for full isolation (docker: --security-opt systempaths=unconfined; Kubernetes: procMount: Unmasked)"
    }
}
