package import Foundation

/// A build cache as BuildKit describes it (`application/vnd.buildkit.cacheconfig.v0`): the layers, each with
/// its parent (so a layer index stands for a whole chain), and the records, one per cached step, each naming
/// the top layer of its result and the records it was built from. img adds its own fields under `img.`
/// names: the version of the keys its records are named by, and per record the digest of the image config
/// that img needs to rebuild the step's result (layers alone do not say what ENV or WORKDIR were).
///
/// The keys are img's own cache keys, so BuildKit will not hit them; the point is that registries, skopeo
/// and other OCI tools store and copy img's cache like any other.
package struct CacheConfig: Sendable, Hashable, Codable {
    /// The media type of the cache config blob.
    package static let mediaType: MediaType = "application/vnd.buildkit.cacheconfig.v0"
    /// The version of the cache keys img writes; a cache whose `img.keyVersion` differs is not used.
    package static let currentKeyVersion = 1
    /// The annotation of a layer descriptor in the cache manifest holding the layer's diffID.
    package static let uncompressedAnnotation = "containerd.io/uncompressed"

    /// One layer blob and the index of the layer below it in `layers` (-1: none).
    package struct Layer: Sendable, Hashable, Codable {
        package var blob: Digest
        package var parent: Int

        package init(blob: Digest, parent: Int) {
            self.blob = blob
            self.parent = parent
        }

        enum CodingKeys: String, CodingKey { case blob, parent }

        package init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            blob = try container.decode(Digest.self, forKey: .blob)
            // BuildKit leaves a zero parent out (`omitempty`).
            parent = try container.decodeIfPresent(Int.self, forKey: .parent) ?? 0
        }
    }

    /// A step's result: the index of its top layer in `layers`.
    package struct Result: Sendable, Hashable, Codable {
        package var layer: Int
        package var createdAt: String?

        package init(layer: Int, createdAt: String?) {
            self.layer = layer
            self.createdAt = createdAt
        }
    }

    /// A record this one was built from (`link` is an index in `records`).
    package struct Input: Sendable, Hashable, Codable {
        package var selector: String?
        package var link: Int

        package init(selector: String? = nil, link: Int) {
            self.selector = selector
            self.link = link
        }
    }

    /// One cached step: its key, its result and its inputs.
    package struct Record: Sendable, Hashable, Codable {
        /// img's cache key of the step.
        package var digest: Digest
        /// The result's top layer (BuildKit's JSON calls the list `layers`); empty for a result without layers.
        package var results: [Result]
        package var inputs: [[Input]]
        /// img's: the digest of the result's image config blob, which the cache manifest holds.
        package var config: Digest?

        package init(digest: Digest, results: [Result], inputs: [[Input]] = [], config: Digest?) {
            self.digest = digest
            self.results = results
            self.inputs = inputs
            self.config = config
        }

        enum CodingKeys: String, CodingKey {
            case digest
            case results = "layers"
            case inputs
            case config = "img.config"
        }

        package init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            digest = try container.decode(Digest.self, forKey: .digest)
            results = try container.decodeIfPresent([Result].self, forKey: .results) ?? []
            inputs = try container.decodeIfPresent([[Input]].self, forKey: .inputs) ?? []
            config = try container.decodeIfPresent(Digest.self, forKey: .config)
        }
    }

    /// img's key version; nil in a cache img did not write.
    package var keyVersion: Int?
    package var layers: [Layer]
    package var records: [Record]
    /// img's: the contents of `RUN --mount=type=cache` mounts (`cache-mounts=true`, see `CacheMount`).
    package var cacheMounts: CacheMounts?
    /// img's: records' image configs carried inside the cache config (by digest; the manifest still lists each
    /// as a blob), so an import reads them with the config instead of one round trip each. An importer checks
    /// each against its digest; a missing or wrong one is fetched as a blob.
    package var embeddedConfigs: [Digest: Data]

    package init(keyVersion: Int? = CacheConfig.currentKeyVersion, layers: [Layer], records: [Record],
                 cacheMounts: CacheMounts? = nil, embeddedConfigs: [Digest: Data] = [:]) {
        self.keyVersion = keyVersion
        self.layers = layers
        self.records = records
        self.cacheMounts = cacheMounts
        self.embeddedConfigs = embeddedConfigs
    }

    enum CodingKeys: String, CodingKey {
        case keyVersion = "img.keyVersion"
        case layers
        case records
        case cacheMounts = "img.cacheMounts"
        case embeddedConfigs = "img.configs"
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(keyVersion, forKey: .keyVersion)
        try container.encode(layers, forKey: .layers)
        try container.encode(records, forKey: .records)
        try container.encodeIfPresent(cacheMounts, forKey: .cacheMounts)
        if !embeddedConfigs.isEmpty {
            // A JSON object from digest to the config's bytes in base64 (a dictionary keyed by a non-string
            // type would be encoded as a flat array).
            try container.encode(Dictionary(uniqueKeysWithValues: embeddedConfigs.map { ($0.key.description, $0.value) }),
                                 forKey: .embeddedConfigs)
        }
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        keyVersion = try container.decodeIfPresent(Int.self, forKey: .keyVersion)
        layers = try container.decodeIfPresent([Layer].self, forKey: .layers) ?? []
        records = try container.decodeIfPresent([Record].self, forKey: .records) ?? []
        // A list this img cannot read (another version's shape) is left out, not a broken cache.
        cacheMounts = try? container.decodeIfPresent(CacheMounts.self, forKey: .cacheMounts)
        // Likewise embedded configs: an entry that is not a digest and base64 is left out (fetched as a blob).
        var embedded: [Digest: Data] = [:]
        for (key, value) in (try? container.decodeIfPresent([String: Data].self, forKey: .embeddedConfigs)) ?? [:] {
            if let digest = try? Digest(parsing: key) { embedded[digest] = value }
        }
        embeddedConfigs = embedded
    }

    /// For each record (by index in `records`), the records made on it: those whose inputs link to it.
    package static func children(_ records: [Record]) -> [Int: [Int]] {
        var children: [Int: [Int]] = [:]
        for (index, record) in records.enumerated() {
            for input in record.inputs.joined() { children[input.link, default: []].append(index) }
        }
        return children
    }

    /// The indices of `records` from the records made on no other (each stage's first cached step) on,
    /// breadth first through `children` (the records made on each); each index once.
    package static func breadthFirst(_ records: [Record], children: [Int: [Int]]) -> [Int] {
        var order = records.indices.filter { records[$0].inputs.allSatisfy(\.isEmpty) }
        var seen = Set(order)
        var next = 0
        while next < order.count {
            for child in children[order[next]] ?? [] where seen.insert(child).inserted { order.append(child) }
            next += 1
        }
        return order
    }

    /// The embedded config `digest`, when it is there and its bytes have that digest.
    package func embeddedConfig(_ digest: Digest) -> Data? {
        guard let data = embeddedConfigs[digest], Digest.sha256(of: data) == digest else { return nil }
        return data
    }

    /// The blobs of the chain whose top is `layers[top]`, bottom first; nil when the parents run out of
    /// range or loop.
    package func chain(top: Int) -> [Digest]? {
        var blobs: [Digest] = []
        var index = top
        while index >= 0 {
            guard index < layers.count, blobs.count < layers.count else { return nil }
            blobs.append(layers[index].blob)
            index = layers[index].parent
        }
        return blobs.reversed()
    }
}
