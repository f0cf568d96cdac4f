/// The `--name[=value]` flags an instruction accepts, checked the way BuildKit's flag parser checks them:
/// unknown names, duplicates of single-valued flags and bad booleans are errors.
struct InstructionFlags {
    enum Kind { case string, bool, list }

    private let keyword: String
    private var strings: [String: String] = [:]
    private var bools: [String: Bool] = [:]
    private var lists: [String: [String]] = [:]

    /// Parses `raw` (as the parser stored them, `--from=x`) against the accepted `spec`.
    init(_ raw: [String], keyword: String, accepting spec: [String: Kind]) throws(InstructionError) {
        self.keyword = keyword
        for flag in raw {
            guard flag.hasPrefix("--") else { throw InstructionError("invalid flag \(flag) on \(keyword)") }
            let body = flag.dropFirst(2)
            let name: String
            let value: String?
            if let eq = body.firstIndex(of: "=") {
                name = String(body[..<eq])
                value = String(body[body.index(after: eq)...])
            } else {
                name = String(body)
                value = nil
            }
            guard let kind = spec[name] else {
                let hint = Suggestion.closest(to: name, in: spec.keys).map { " (did you mean --\($0)?)" } ?? ""
                throw InstructionError("unknown flag --\(name) for \(keyword)\(hint)")
            }
            switch kind {
            case .string:
                guard let value else { throw InstructionError("missing a value on flag --\(name) for \(keyword)") }
                guard strings[name] == nil else { throw InstructionError("duplicate flag --\(name) for \(keyword)") }
                strings[name] = value
            case .list:
                guard let value else { throw InstructionError("missing a value on flag --\(name) for \(keyword)") }
                lists[name, default: []].append(value)
            case .bool:
                guard bools[name] == nil else { throw InstructionError("duplicate flag --\(name) for \(keyword)") }
                switch value?.lowercased() {
                case nil, "", "true", "1": bools[name] = true
                case "false", "0": bools[name] = false
                case let other?:
                    throw InstructionError("expecting a boolean value for flag --\(name), not: \(other)")
                }
            }
        }
    }

    func string(_ name: String) -> String? { strings[name] }
    func bool(_ name: String) -> Bool { bools[name] ?? false }
    /// nil when the flag was not given, so callers can tell `--x=false` from absence.
    func optionalBool(_ name: String) -> Bool? { bools[name] }
    func list(_ name: String) -> [String] { lists[name] ?? [] }
}

/// An error found while typing one instruction; the caller adds the file and line.
struct InstructionError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
