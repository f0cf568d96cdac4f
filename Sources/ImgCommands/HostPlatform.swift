import Foundation

/// The machine img runs on, in OCI terms (`linux/amd64`).
enum HostPlatform {
    static let current: String = {
        var info = utsname()
        uname(&info)
        let machine = withUnsafeBytes(of: &info.machine) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return "linux/" + architecture(machine)
    }()

    /// Maps `uname -m` names to the GOARCH names images use.
    static func architecture(_ machine: String) -> String {
        switch machine {
        case "x86_64", "amd64": "amd64"
        case "aarch64", "arm64": "arm64"
        case "armv7l", "armv7": "arm/v7"
        case "armv6l": "arm/v6"
        case "i386", "i686": "386"
        case "ppc64le": "ppc64le"
        case "s390x": "s390x"
        case "riscv64": "riscv64"
        default: machine
        }
    }
}
