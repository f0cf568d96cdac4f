/// Variables visible to an expansion. Later definitions of a name win; order is kept for callers that
/// need it (ENV lists).
package struct ShellEnvironment: Sendable, Hashable {
    package private(set) var names: [String] = []
    private var values: [String: String] = [:]

    package init() {}
    package init(_ pairs: [(String, String)]) {
        for (k, v) in pairs { self[k] = v }
    }
    package subscript(name: String) -> String? {
        get { values[name] }
        set {
            if values[name] == nil, newValue != nil { names.append(name) }
            if newValue == nil { names.removeAll { $0 == name } }
            values[name] = newValue
        }
    }
}

/// The result of expanding a word (or a line split into words).
package struct ShellExpansion: Sendable, Hashable {
    /// The words; `expandWord` always returns exactly one.
    package var words: [String]
    /// Variable names that were referenced and set (set-but-empty counts as set).
    package var matched: Set<String>
    /// Variable names that were referenced but unset.
    package var unmatched: Set<String>
    package var value: String { words.joined(separator: " ") }

    package init(words: [String], matched: Set<String> = [], unmatched: Set<String> = []) {
        self.words = words
        self.matched = matched
        self.unmatched = unmatched
    }
}

/// BuildKit-compatible shell-word expansion (`$V`, `${V:-w}`, `${V#p}`, quotes, escapes).
package struct ShellLexer: Sendable {
    package var escape: Character
    /// Keep quote characters in the output (BuildKit's raw-quotes mode).
    package var keepQuotes = false
    /// Leave references to unset variables as written instead of expanding them to "".
    package var skipUnset = false

    package init(escape: Character = "\\") { self.escape = escape }

    /// Expands `word` as one word: quotes and escapes processed, no splitting.
    package func expandWord(_ word: String, env: ShellEnvironment) throws(DockerfileError) -> ShellExpansion {
        // Most words (ENV and LABEL keys, plain paths) have nothing to expand: skip the scalar copies.
        if isLiteral(word) { return ShellExpansion(words: [word]) }
        var scanner = ShellWordScanner(word, lexer: self, env: env)
        var none: ShellWordCollector? = nil
        let result = try scanner.process(stop: nil, words: &none)
        return ShellExpansion(
            words: [String(String.UnicodeScalarView(result))], matched: scanner.matched,
            unmatched: scanner.unmatched)
    }

    /// True when expanding `word` gives it back unchanged: no `$`, quote or escape character, and short
    /// enough that the length cap cannot apply.
    private func isLiteral(_ word: String) -> Bool {
        guard word.utf8.count <= ShellWordScanner.maximumLength, let escape = escape.asciiValue else { return false }
        for byte in word.utf8 where byte == UInt8(ascii: "$") || byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"")
            || byte == escape {
            return false
        }
        return true
    }

    /// Expands `line` and splits the result into words; quoted parts stay together.
    package func expandWords(_ line: String, env: ShellEnvironment) throws(DockerfileError) -> ShellExpansion {
        var scanner = ShellWordScanner(line, lexer: self, env: env)
        var words: ShellWordCollector? = ShellWordCollector()
        _ = try scanner.process(stop: nil, words: &words)
        return ShellExpansion(words: words!.finish(), matched: scanner.matched, unmatched: scanner.unmatched)
    }
}
