package import ImgOCI

/// Builds a cache key from typed fields. Each field is written as `name`, a length, then the bytes, so two
/// different field lists can never hash the same (no ambiguity from concatenation).
package struct CacheKeyBuilder {
    private var hasher = DigestHasher()

    package init(kind: String) { add("kind", kind) }

    package mutating func add(_ name: String, _ value: String) {
        append(name)
        append(value)
    }

    package mutating func add(_ name: String, _ values: [String]) {
        append(name)
        append(String(values.count))
        for value in values { append(value) }
    }

    package mutating func add(_ name: String, _ digest: Digest?) {
        add(name, digest?.description ?? "-")
    }

    package mutating func add(_ name: String, _ flag: Bool) { add(name, flag ? "1" : "0") }

    package func finish() -> Digest { hasher.finalize() }

    private mutating func append(_ text: String) {
        let bytes = Array(text.utf8)
        var length = "\(bytes.count):".utf8.map { $0 }
        length.append(contentsOf: bytes)
        hasher.update(length)
    }
}
