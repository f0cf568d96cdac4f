/// An entry of `mounts`.
package struct RuntimeMount: Sendable, Hashable, Codable {
    package var destination: String
    package var type: String
    package var source: String
    package var options: [String]?

    package init(destination: String, type: String, source: String, options: [String]? = nil) {
        self.destination = destination
        self.type = type
        self.source = source
        self.options = options
    }

    /// A recursive bind mount of a host path.
    package static func bind(_ source: String, on destination: String, readOnly: Bool) -> RuntimeMount {
        var options = ["rbind", "nosuid", "nodev"]
        if readOnly { options.append("ro") }
        return RuntimeMount(destination: destination, type: "bind", source: source, options: options)
    }

    /// A fresh tmpfs; `options` such as `size=64m`, `mode=1777`.
    package static func tmpfs(on destination: String, options: [String] = ["nosuid", "nodev", "mode=755"]) -> RuntimeMount {
        RuntimeMount(destination: destination, type: "tmpfs", source: "tmpfs", options: options)
    }
}
