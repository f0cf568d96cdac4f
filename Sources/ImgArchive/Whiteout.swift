/// OCI whiteout names (image-spec "layer.md"): `.wh.NAME` deletes NAME from lower layers, `.wh..wh..opq`
/// hides everything lower layers put in its directory.
package enum Whiteout {
    package static let prefix = ".wh."
    package static let opaque = ".wh..wh..opq"

    /// The whiteout entry name for `name`.
    package static func name(for name: String) -> String { prefix + name }
}
