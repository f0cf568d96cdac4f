package import Foundation

/// BuildKit's inline cache (`--cache-to type=inline`): the build cache of the steps that made an image,
/// carried in the image's own config under the top-level key `moby.buildkit.cache.v0`. As BuildKit writes
/// it, the value is a JSON string holding the base64 of a JSON array of cache records (a Go `[]byte`); a
/// record's `layers[].layer` is an index in the image's own layers, the result being the image's first
/// `layer + 1` layers. There is no `layers` table and no cache manifest: the image is both.
///
/// img's records carry img's cache keys (BuildKit never hits them) and, under `img.` names BuildKit does
/// not read, the key version and what img needs to rebuild the step's image config: the config without its
/// `rootfs.diff_ids` and `history` (`img.image`), the length of its history (`img.history`; both lists are
/// prefixes of the image's own) and the digest the rebuilt config must have (`img.config`).
package enum InlineCache {
    /// The image config's key of the inline cache.
    package static let configKey = "moby.buildkit.cache.v0"

    /// One cached step.
    package struct Record: Sendable, Hashable, Codable {
        /// img's cache key of the step.
        package var digest: Digest
        /// The result's top layer, as an index in the image's layers; empty for a result without layers.
        package var results: [CacheConfig.Result]
        package var inputs: [[CacheConfig.Input]]
        /// img's key version; nil in a record BuildKit wrote.
        package var keyVersion: Int?
        /// The digest of the step's image config (what the rebuilt config must hash to).
        package var config: Digest?
        /// The step's image config with empty `rootfs.diff_ids` and no `history`.
        package var image: ImageConfig?
        /// How many entries of the image's history the step's config has (nil: it has no history list).
        package var history: Int?

        package init(digest: Digest, results: [CacheConfig.Result], inputs: [[CacheConfig.Input]] = [],
                     keyVersion: Int? = CacheConfig.currentKeyVersion, config: Digest?, image: ImageConfig?, history: Int?) {
            self.digest = digest
            self.results = results
            self.inputs = inputs
            self.keyVersion = keyVersion
            self.config = config
            self.image = image
            self.history = history
        }

        enum CodingKeys: String, CodingKey {
            case digest
            case results = "layers"
            case inputs
            case keyVersion = "img.keyVersion"
            case config = "img.config"
            case image = "img.image"
            case history = "img.history"
        }

        package init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            digest = try container.decode(Digest.self, forKey: .digest)
            results = try container.decodeIfPresent([CacheConfig.Result].self, forKey: .results) ?? []
            inputs = try container.decodeIfPresent([[CacheConfig.Input]].self, forKey: .inputs) ?? []
            keyVersion = try container.decodeIfPresent(Int.self, forKey: .keyVersion)
            config = try container.decodeIfPresent(Digest.self, forKey: .config)
            image = try container.decodeIfPresent(ImageConfig.self, forKey: .image)
            history = try container.decodeIfPresent(Int.self, forKey: .history)
        }

        /// The step's image config rebuilt over the image's: its own fields, the image's first diff_ids
        /// (one per layer of the result) and history entries. Nil when the record cannot say.
        package func stepConfig(in image: ImageConfig) -> ImageConfig? {
            guard var config = self.image else { return nil }
            let layers = results.first.map { $0.layer + 1 } ?? 0
            guard layers >= 0, layers <= image.rootfs.diffIDs.count else { return nil }
            config.rootfs.diffIDs = Array(image.rootfs.diffIDs.prefix(layers))
            if let count = history {
                guard let entries = image.history, count >= 0, count <= entries.count else { return nil }
                config.history = Array(entries.prefix(count))
            } else {
                config.history = nil
            }
            return config
        }
    }

    /// The records of an image config's inline cache: nil when the config has none.
    package static func records(inConfig data: Data) throws -> [Record]? {
        struct Field: Decodable {
            var cache: Data?
            enum CodingKeys: String, CodingKey { case cache = "moby.buildkit.cache.v0" }
        }
        guard let cache = try JSONDecoder().decode(Field.self, from: data).cache else { return nil }
        return try JSONDecoder().decode([Record].self, from: cache)
    }

    /// The value of the config key: the records' JSON (the encoder encodes it as base64, as Go does `[]byte`).
    package static func document(_ records: [Record]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(records)
    }
}

/// An image config with an inline cache beside its fields: how the final image's config is written when
/// `--cache-to type=inline` asks for it. Without a cache it encodes exactly as the config alone.
package struct InlineCachedConfig: Sendable, Encodable {
    package var config: ImageConfig
    /// `InlineCache.document`'s bytes.
    package var cache: Data?

    package init(_ config: ImageConfig, cache: Data?) {
        self.config = config
        self.cache = cache
    }

    private enum CodingKeys: String, CodingKey { case cache = "moby.buildkit.cache.v0" }

    package func encode(to encoder: any Encoder) throws {
        try config.encode(to: encoder)
        // The same keyed container as the config's: the key goes in the same JSON object.
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(cache, forKey: .cache)
    }
}
