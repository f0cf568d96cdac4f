/// An OCI platform (`linux/arm64/v8`), normalised as containerd does so that `aarch64` and `arm64` compare
/// equal.
package struct Platform: Sendable, Hashable, Codable, CustomStringConvertible {
    package var os: String
    package var architecture: String
    package var variant: String?
    package var osVersion: String?
    package var osFeatures: [String]?

    enum CodingKeys: String, CodingKey {
        case os, architecture, variant
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    package init(os: String, architecture: String, variant: String? = nil, osVersion: String? = nil,
                 osFeatures: [String]? = nil) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
        self.osVersion = osVersion
        self.osFeatures = osFeatures
    }

    /// Parses `os/arch[/variant]` (also a bare architecture, taken as Linux) and normalises it.
    package init(parsing text: String) throws(OCIError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (1...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." } })
        else { throw OCIError("platform", "invalid platform \"\(text)\": expected os/arch[/variant]") }
        if parts.count == 1 {
            self.init(os: "linux", architecture: parts[0])
        } else {
            self.init(os: parts[0], architecture: parts[1], variant: parts.count == 3 ? parts[2] : nil)
        }
        self = normalized
    }

    /// containerd's normalisation: lower-case, canonical architecture names, default variants dropped.
    package var normalized: Platform {
        var p = self
        p.os = os.lowercased() == "macos" ? "darwin" : os.lowercased()
        var variant = self.variant?.lowercased()
        switch architecture.lowercased() {
        case "i386", "i686", "386": p.architecture = "386"; variant = nil
        case "x86_64", "x86-64", "amd64":
            p.architecture = "amd64"
            if variant == "v1" { variant = nil }
        case "aarch64", "arm64":
            p.architecture = "arm64"
            if variant == "8" || variant == "v8" { variant = nil }
        case "armhf": p.architecture = "arm"; variant = "v7"
        case "armel": p.architecture = "arm"; variant = "v6"
        case "arm":
            p.architecture = "arm"
            switch variant {
            case nil, "7": variant = "v7"
            case "5", "6", "8": variant = "v" + variant!
            default: break
            }
        default: p.architecture = architecture.lowercased()
        }
        p.variant = (variant?.isEmpty ?? true) ? nil : variant
        return p
    }

    /// Whether an image built for `self` can be used where `wanted` is asked for (same OS and architecture;
    /// a missing variant on either side is the default one).
    package func matches(_ wanted: Platform) -> Bool {
        let a = normalized, b = wanted.normalized
        return a.os == b.os && a.architecture == b.architecture && (a.variant == b.variant || b.variant == nil)
    }

    package var description: String {
        [os, architecture, variant].compactMap { $0 }.joined(separator: "/")
    }
}
