/// Parser directives (`# syntax=...`, `# escape=...`, `# check=...`) as BuildKit's `DirectiveParser`
/// and `DetectSyntax`/`ParseDirective` find them.

/// A directive found by the detection functions.
package struct DirectiveMatch: Sendable, Hashable {
    /// The value up to its first space (`docker/dockerfile:1` in `docker/dockerfile:1 // opts`).
    package var ref: String
    /// The whole value.
    package var cmdline: String
    /// 1-based line of the directive; for the JSON form, 0 (or 1 after a shebang line).
    package var line: Int

    package init(ref: String, cmdline: String, line: Int) {
        self.ref = ref
        self.cmdline = cmdline
        self.line = line
    }
}

/// One `name=value` directive line, name lower-cased.
package struct ScannedDirective: Sendable, Hashable {
    package var name: String
    package var value: String
    package var line: Int

    package init(name: String, value: String, line: Int) {
        self.name = name
        self.value = value
        self.line = line
    }
}

/// Scans directive lines one by one until the first line that is not one.
struct DirectiveScanner {
    enum Prefix { case hash, doubleSlash }

    static let known: Set<String> = ["syntax", "escape", "check"]

    let prefix: Prefix
    private(set) var done = false
    private var seen: Set<String> = []

    init(prefix: Prefix) { self.prefix = prefix }

    /// Matches `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` (Go's `\s`: space, \t, \n, \f, \r). A line
    /// that does not match, or names an unknown directive, ends the scan; a repeated one is an error.
    mutating func scan(_ bytes: Bytes, _ range: Range<Int>, lineNumber: Int) throws(DockerfileError) -> ScannedDirective? {
        guard !done else { return nil }
        guard let (nameRange, valueRange) = Self.match(bytes, range, prefix: prefix) else {
            done = true
            return nil
        }
        let name = bytes.string(nameRange).lowercased()
        guard Self.known.contains(name) else {
            done = true
            return nil
        }
        guard seen.insert(name).inserted else {
            throw DockerfileParser.error("only one \(name) parser directive can be used")
        }
        return ScannedDirective(name: name, value: bytes.string(valueRange), line: lineNumber)
    }

    private static func isRegexSpace(_ byte: UInt8) -> Bool {
        byte == ASCII.space || byte == 0x09 || byte == 0x0A || byte == 0x0C || byte == 0x0D
    }

    private static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A }

    static func match(_ bytes: Bytes, _ range: Range<Int>, prefix: Prefix) -> (name: Range<Int>, value: Range<Int>)? {
        var pos = range.lowerBound
        let end = range.upperBound
        switch prefix {
        case .hash:
            guard pos < end, bytes[pos] == ASCII.hash else { return nil }
            pos += 1
        case .doubleSlash:
            guard pos + 1 < end, bytes[pos] == ASCII.slash, bytes[pos + 1] == ASCII.slash else { return nil }
            pos += 2
        }
        while pos < end, isRegexSpace(bytes[pos]) { pos += 1 }
        let nameStart = pos
        guard pos < end, isLetter(bytes[pos]) else { return nil }
        while pos < end, isLetter(bytes[pos]) || isDigit(bytes[pos]) { pos += 1 }
        let name = nameStart..<pos
        while pos < end, isRegexSpace(bytes[pos]) { pos += 1 }
        guard pos < end, bytes[pos] == ASCII.equals else { return nil }
        pos += 1
        guard pos < end else { return nil }
        // `\s*(.+?)\s*$`: the value keeps at least one character even when it is all white space.
        var valueStart = pos
        while valueStart < end - 1, isRegexSpace(bytes[valueStart]) { valueStart += 1 }
        var valueEnd = end
        while valueEnd > valueStart + 1, isRegexSpace(bytes[valueEnd - 1]) { valueEnd -= 1 }
        return (name, valueStart..<valueEnd)
    }
}

extension Directives {
    /// Notes a directive found by the main parse.
    mutating func record(_ directive: ScannedDirective) {
        lines[directive.name] = directive.line
        switch directive.name {
        case "syntax": syntax = directive.value
        case "check": check = directive.value
        default: break
        }
    }

    /// Fills `syntax` and `check` the way the frontend finds them, which also looks past a shebang
    /// line (and, for `syntax`, at `//` comments and a JSON object).
    mutating func complete(from bytes: Bytes) {
        if syntax == nil, let found = DockerfileParser.directive("syntax", in: bytes, anyFormat: true) {
            syntax = found.cmdline
            lines["syntax"] = found.line
        }
        if check == nil, let found = DockerfileParser.directive("check", in: bytes, anyFormat: false) {
            check = found.cmdline
            lines["check"] = found.line
        }
    }
}

extension DockerfileParser {
    /// The `syntax` directive as BuildKit's `DetectSyntax` finds it: BOM and a `#!` first line are
    /// skipped, `//syntax=` comments and a whole-file JSON object `{"syntax": "..."}` are accepted too.
    package static func detectSyntax(_ bytes: [UInt8]) -> DirectiveMatch? {
        bytes.withUnsafeBufferPointer { directive("syntax", in: $0, anyFormat: true) }
    }

    /// A directive as BuildKit's `ParseDirective` finds it: `#` lines only, BOM and shebang skipped.
    package static func parseDirective(_ key: String, _ bytes: [UInt8]) -> DirectiveMatch? {
        bytes.withUnsafeBufferPointer { directive(key.lowercased(), in: $0, anyFormat: false) }
    }

    /// All directives at the top of `bytes` (`#` form, no BOM or shebang handling), stopping at the
    /// first line that is not one. A repeated directive ends the list.
    package static func parseDirectives(_ bytes: [UInt8]) -> [ScannedDirective] {
        bytes.withUnsafeBufferPointer { scanAll($0, 0..<$0.count, prefix: .hash, firstLine: 1) }
    }

    static func directive(_ key: String, in bytes: Bytes, anyFormat: Bool) -> DirectiveMatch? {
        var start = 0
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { start = 3 }
        var lineOffset = 0
        if start + 1 < bytes.count, bytes[start] == ASCII.hash, bytes[start + 1] == 0x21 {
            lineOffset = 1
            start = bytes.firstIndex(of: ASCII.newline, in: start..<bytes.count).map { $0 + 1 } ?? bytes.count
        }
        let range = start..<bytes.count
        func find(_ prefix: DirectiveScanner.Prefix) -> DirectiveMatch? {
            for found in scanAll(bytes, range, prefix: prefix, firstLine: lineOffset + 1) where found.name == key {
                let ref = found.value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false).first
                return DirectiveMatch(ref: ref.map(String.init) ?? found.value, cmdline: found.value, line: found.line)
            }
            return nil
        }
        if let found = find(.hash) { return found }
        guard anyFormat else { return nil }
        if let found = find(.doubleSlash) { return found }
        let rest = UnsafeBufferPointer(rebasing: bytes[range])
        if let value = ExecFormJSON.stringMember(key, of: rest) {
            return DirectiveMatch(ref: value, cmdline: value, line: lineOffset)
        }
        return nil
    }

    private static func scanAll(
        _ bytes: Bytes, _ range: Range<Int>, prefix: DirectiveScanner.Prefix, firstLine: Int
    ) -> [ScannedDirective] {
        var scanner = DirectiveScanner(prefix: prefix)
        var found: [ScannedDirective] = []
        var pos = range.lowerBound
        var lineNumber = firstLine
        while pos < range.upperBound, !scanner.done {
            let newline = bytes.firstIndex(of: ASCII.newline, in: pos..<range.upperBound) ?? range.upperBound
            var end = newline
            if end > pos, bytes[end - 1] == ASCII.carriageReturn { end -= 1 }
            do {
                if let directive = try scanner.scan(bytes, pos..<end, lineNumber: lineNumber) { found.append(directive) }
            } catch {
                break
            }
            pos = newline + 1
            lineNumber += 1
        }
        return found
    }
}
