extension Platform {
    /// The binfmt_misc handler Debian's qemu-user-static registers for `architecture` (OCI's names: arm64,
    /// arm, ...), which names it after qemu's binaries.
    package static func qemuHandler(architecture: String) -> String {
        switch architecture {
        case "arm64": "qemu-aarch64"
        case "amd64": "qemu-x86_64"
        case "386": "qemu-i386"
        case "mips64le": "qemu-mips64el"
        case "mipsle": "qemu-mipsel"
        default: "qemu-\(architecture)"
        }
    }
}
