/// The subset of the OCI runtime specification (`config.json`, version 1.0.2) that img writes for a RUN
/// step. Field names follow the specification; absent optionals are left out of the JSON.
package struct RuntimeSpec: Sendable, Hashable, Codable {
    package var ociVersion: String = "1.0.2"
    package var process: RuntimeProcess
    package var root: RuntimeRoot
    package var hostname: String?
    package var mounts: [RuntimeMount]
    package var linux: RuntimeLinux

    package init(process: RuntimeProcess, root: RuntimeRoot, hostname: String?, mounts: [RuntimeMount], linux: RuntimeLinux) {
        self.process = process
        self.root = root
        self.hostname = hostname
        self.mounts = mounts
        self.linux = linux
    }
}

/// `root`: the container's root filesystem.
package struct RuntimeRoot: Sendable, Hashable, Codable {
    package var path: String
    package var readonly: Bool

    package init(path: String, readonly: Bool = false) {
        self.path = path
        self.readonly = readonly
    }
}
