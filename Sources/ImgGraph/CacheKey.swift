package import ImgOCI

/// Builds a cache key from typed fields. Each field is written as `name`, a length, then the bytes, so two
/// different field lists can never hash the same (no ambiguity from concatenation).
package struct CacheKeyBuilder {
    private var hasher = DigestHasher()
    /// Each field's own digest, in order (repeated names are numbered), so a miss can say which changed.
    package private(set) var components: [String: String] = [:]

    package init(kind: String) { add("kind", kind) }

    package mutating func add(_ name: String, _ value: String) {
        append(name)
        append(value)
        note(name, [value])
    }

    package mutating func add(_ name: String, _ values: [String]) {
        append(name)
        append(String(values.count))
        for value in values { append(value) }
        note(name, [String(values.count)] + values)
    }

    private mutating func note(_ name: String, _ values: [String]) {
        var field = DigestHasher()
        for value in values { field.update(Array("\(value.utf8.count):\(value)".utf8)) }
        var key = name
        var n = 1
        while components[key] != nil {
            n += 1
            key = "\(name)#\(n)"
        }
        components[key] = field.finalize().hex
    }

    /// Names of the fields that differ between two builders' components (added, removed or changed),
    /// sorted.
    package static func changedFields(_ old: [String: String], _ new: [String: String]) -> [String] {
        Set(old.keys).union(new.keys).filter { old[$0] != new[$0] }.map { String($0.split(separator: "#")[0]) }
            .reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }.sorted()
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
