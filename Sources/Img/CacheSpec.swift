/// One `--cache-to` of `img build`, as buildx spells it: `type=local,dest=DIR[,tag=T][,mode=min|max]
/// [,ignore-error=true]`.
package struct CacheExportSpec: Sendable, Equatable {
    /// `mode=`: min keeps the steps whose results make the final image; max every step of every stage built.
    package enum Mode: String, Sendable, CaseIterable { case min, max }

    package var destination: String
    package var tag: String = "latest"
    package var mode: Mode = .min
    /// `ignore-error=true`: a failed export is a warning, not a failed build.
    package var ignoreError = false
    /// The spec as given, for messages.
    package var text: String

    package init(parsing text: String) throws {
        self.text = text
        let fields = try CacheSpecFields(text, flag: "--cache-to")
        var destination: String?
        for (key, value) in fields.pairs {
            switch key {
            case "dest": destination = value
            case "tag": tag = try fields.nonEmpty(value, key)
            case "mode":
                guard let parsed = Mode(rawValue: value) else { throw fields.error("mode must be min or max, not \"\(value)\"") }
                mode = parsed
            case "ignore-error": ignoreError = try fields.bool(value, key)
            default: throw fields.error("unknown key \"\(key)\" for type=local")
            }
        }
        guard let destination, !destination.isEmpty else { throw fields.error("type=local needs dest=DIR") }
        self.destination = destination
    }
}

/// One `--cache-from` of `img build`: `type=local,src=DIR[,tag=T]`.
package struct CacheImportSpec: Sendable, Equatable {
    package var source: String
    package var tag: String = "latest"
    /// The spec as given, for messages.
    package var text: String

    package init(parsing text: String) throws {
        self.text = text
        let fields = try CacheSpecFields(text, flag: "--cache-from")
        var source: String?
        for (key, value) in fields.pairs {
            switch key {
            case "src": source = value
            case "tag": tag = try fields.nonEmpty(value, key)
            default: throw fields.error("unknown key \"\(key)\" for type=local")
            }
        }
        guard let source, !source.isEmpty else { throw fields.error("type=local needs src=DIR") }
        self.source = source
    }
}

/// The `key=value` fields of a cache spec after its `type=`, which must be one img supports.
struct CacheSpecFields {
    let flag: String
    var pairs: [(String, String)] = []

    init(_ text: String, flag: String) throws {
        self.flag = flag
        guard text.contains("=") else {
            throw RequestError("\(flag): \"\(text)\" is an image reference (an inline cache), which img does not read yet: use type=local,src=DIR")
        }
        var type: String?
        for field in text.split(separator: ",", omittingEmptySubsequences: true) {
            guard let eq = field.firstIndex(of: "=") else { throw RequestError("\(flag): \"\(field)\" is not key=value") }
            let key = field[..<eq].lowercased()
            let value = String(field[field.index(after: eq)...])
            if key == "type" { type = value } else { pairs.append((key, value)) }
        }
        switch type {
        case "local": break
        case nil: throw RequestError("\(flag): missing type= (img supports type=local)")
        case "registry", "inline", "gha", "s3", "azblob":
            throw RequestError("\(flag): type=\(type!) is not supported yet (img supports type=local)")
        case let other?: throw RequestError("\(flag): unknown type \"\(other)\"")
        }
    }

    func error(_ message: String) -> RequestError { RequestError("\(flag): \(message)") }

    func bool(_ value: String, _ key: String) throws -> Bool {
        switch value.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw error("\(key) must be true or false")
        }
    }

    func nonEmpty(_ value: String, _ key: String) throws -> String {
        guard !value.isEmpty, !value.contains("/") else { throw error("\(key) must be a non-empty name without /") }
        return value
    }
}
