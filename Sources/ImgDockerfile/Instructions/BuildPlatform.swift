/// An `os/architecture[/variant]` platform, as `--platform` and the platform ARGs spell it.
package struct BuildPlatform: Sendable, Hashable, CustomStringConvertible {
    package var os: String
    package var architecture: String
    /// nil when the architecture has no variant or uses its default one (arm64 is v8 unless said otherwise).
    package var variant: String?

    package init(os: String, architecture: String, variant: String? = nil) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
        normalize()
    }

    /// Parses `linux/arm64/v8`, `linux/amd64`, `linux/arm/v7`; common aliases (`x86_64`, `aarch64`) are accepted.
    package init?(parsing text: String) {
        let parts = text.lowercased().split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (2...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && !$0.contains(" ") }) else {
            return nil
        }
        self.init(os: parts[0], architecture: parts[1], variant: parts.count == 3 ? parts[2] : nil)
    }

    /// The platform of the machine this runs on.
    package static var host: BuildPlatform {
        #if arch(x86_64)
        BuildPlatform(os: "linux", architecture: "amd64")
        #elseif arch(arm64)
        BuildPlatform(os: "linux", architecture: "arm64")
        #elseif arch(arm)
        BuildPlatform(os: "linux", architecture: "arm", variant: "v7")
        #elseif arch(i386)
        BuildPlatform(os: "linux", architecture: "386")
        #else
        BuildPlatform(os: "linux", architecture: "unknown")
        #endif
    }

    package var description: String {
        [os, architecture, variant].compactMap { $0 }.joined(separator: "/")
    }

    /// Folds aliases the way containerd normalizes them, so that `TARGETARCH` is always `amd64`/`arm64`.
    private mutating func normalize() {
        os = os.lowercased()
        architecture = architecture.lowercased()
        variant = variant?.lowercased()
        switch architecture {
        case "x86_64", "x86-64": architecture = "amd64"
        case "i386", "i686": architecture = "386"
        case "aarch64": architecture = "arm64"
        case "armhf": architecture = "arm"; variant = variant ?? "v7"
        case "armel": architecture = "arm"; variant = variant ?? "v6"
        default: break
        }
        if architecture == "arm64", variant == "v8" || variant == "8" { variant = nil }
        if architecture == "arm", let v = variant, !v.hasPrefix("v") { variant = "v" + v }
        if architecture == "arm", variant == nil { variant = "v7" }
        if variant == "" { variant = nil }
    }
}
