package import ImgOCI

extension StateLayout {
    /// The directory of the `RUN --mount=type=cache` mount `id` (named by the id's digest, so any id is one
    /// safe file name).
    package func cacheMountDirectory(id: String) -> String {
        cacheMountsDirectory + "/" + Digest.sha256(of: Array(id.utf8)).hex
    }
}
