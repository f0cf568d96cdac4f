/// Reading a `.dockerignore` file into its pattern list.
package enum IgnoreFile {
    /// One pattern with the 1-based line it came from, for error messages.
    package struct Entry: Sendable, Hashable {
        package var pattern: String
        package var line: Int

        package init(pattern: String, line: Int) {
            self.pattern = pattern
            self.line = line
        }
    }

    /// The patterns of an ignore file: BOM dropped, lines starting with `#` skipped, lines trimmed and
    /// empty ones dropped, whitespace after a leading `!` trimmed, the pattern path-cleaned and one leading
    /// `/` removed. A lone `!` survives here; building the matcher rejects it.
    package static func read(_ text: String) -> [String] {
        entries(text).map(\.pattern)
    }

    package static func read(_ bytes: [UInt8]) -> [String] {
        read(String(decoding: bytes, as: UTF8.self))
    }

    package static func entries(_ text: String) -> [Entry] {
        var result: [Entry] = []
        var lineNumber = 0
        // Split on scalars: a CRLF pair is one Swift Character and would never equal "\n".
        for rawLine in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = rawLine
            if line.last == "\r" { line = line.dropLast() }
            if lineNumber == 1, line.first == "\u{FEFF}" { line = line.dropFirst() }
            // A comment only when `#` is the very first character.
            if line.first == "#" { continue }
            var pattern = trimmed(line)
            if pattern.isEmpty { continue }
            let exception = pattern.unicodeScalars.first == "!"
            if exception { pattern = trimmed(pattern.unicodeScalars.dropFirst()) }
            if !pattern.isEmpty {
                pattern = IgnorePath.clean(pattern)
                if pattern.utf8.count > 1, pattern.utf8.first == UInt8(ascii: "/") {
                    pattern = String(pattern.unicodeScalars.dropFirst())
                }
            }
            result.append(Entry(pattern: exception ? "!" + pattern : pattern, line: lineNumber))
        }
        return result
    }

    /// Trims Unicode whitespace at both ends, as Go's `strings.TrimSpace`.
    static func trimmed(_ s: some StringProtocol) -> String {
        trimmed(String(s)[...].unicodeScalars)
    }

    static func trimmed(_ scalars: String.UnicodeScalarView.SubSequence) -> String {
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(Substring(scalars[first...last]))
    }
}
