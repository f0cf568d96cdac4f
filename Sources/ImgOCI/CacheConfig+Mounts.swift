extension CacheConfig {
    /// `img.cacheMounts`: the contents of `RUN --mount=type=cache` directories, each one layer blob of the
    /// cache manifest, by mount id. Versioned on its own (`version`), apart from the cache keys: a cache
    /// whose mounts this img cannot read still gives its records, and an img that knows nothing of the
    /// field ignores it.
    package struct CacheMounts: Sendable, Hashable, Codable {
        /// The version of the `mounts` entries img writes; other versions are not unpacked.
        package static let currentVersion = 1

        package var version: Int
        package var mounts: [CacheMount]

        package init(version: Int = CacheMounts.currentVersion, mounts: [CacheMount]) {
            self.version = version
            self.mounts = mounts
        }
    }

    /// One cache mount's directory as a tar layer: the blob (listed in the manifest's layers, with its
    /// media type) and the digest of the tar inside it.
    package struct CacheMount: Sendable, Hashable, Codable {
        /// The mount's `id=` (its target when the mount names no id).
        package var id: String
        package var blob: Digest
        package var diffID: Digest

        package init(id: String, blob: Digest, diffID: Digest) {
            self.id = id
            self.blob = blob
            self.diffID = diffID
        }
    }
}
