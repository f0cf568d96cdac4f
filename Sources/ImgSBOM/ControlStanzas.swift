/// Debian control-file syntax (deb822), as dpkg's status database and DEP-5 copyright files use it:
/// paragraphs separated by blank lines, `Field: value` lines, continuation lines starting with a space or tab.
struct ControlStanza: Sendable {
    /// Fields by lower-cased name (field names are case-insensitive), values with continuation lines
    /// joined by newlines.
    private(set) var fields: [String: String] = [:]
    /// Set when a line was neither a field nor a continuation: such a stanza is not trusted.
    private(set) var malformed = false

    subscript(_ name: String) -> String? { fields[name.lowercased()] }

    /// The first line of a field, trimmed.
    func firstLine(_ name: String) -> String? {
        guard let value = self[name] else { return nil }
        let line = value.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let trimmed = line.trimmingWhitespace()
        return trimmed.isEmpty ? nil : trimmed
    }

    /// The stanzas of `text`. Comment lines (`#`) are skipped, as DEP-5 allows.
    static func parse(_ text: String) -> [ControlStanza] {
        var stanzas: [ControlStanza] = []
        var current = ControlStanza()
        var lastField: String?
        var open = false
        func finish() {
            if open { stanzas.append(current) }
            current = ControlStanza()
            lastField = nil
            open = false
        }
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) {
                finish()
                continue
            }
            if line.hasPrefix("#") { continue }
            open = true
            if line.first == " " || line.first == "\t" {
                guard let field = lastField else {
                    current.malformed = true
                    continue
                }
                current.fields[field, default: ""] += "\n" + String(line).trimmingWhitespace()
                continue
            }
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex,
                  !line[..<colon].contains(where: { $0 == " " || $0 == "\t" }) else {
                current.malformed = true
                lastField = nil
                continue
            }
            let name = line[..<colon].lowercased()
            current.fields[name] = String(line[line.index(after: colon)...]).trimmingWhitespace()
            lastField = name
        }
        finish()
        return stanzas
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (Foundation's trimming is not needed for that).
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}
