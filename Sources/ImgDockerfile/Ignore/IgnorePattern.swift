/// One compiled `.dockerignore` pattern.
///
/// Classification follows upstream so that cheap patterns stay cheap: `exact` compares, `prefix` (`dir/**`)
/// and `suffix` (`**/name`, `**name`) compare bytes at one end, and only the rest runs the glob automaton.
package struct IgnorePattern: Sendable, Hashable {
    package enum MatchType: String, Sendable, Hashable {
        case exact, prefix, suffix, regexp
    }

    /// The pattern as compiled: trimmed, cleaned, without its `!`.
    package let pattern: String
    /// True for a `!` pattern (an exception that re-includes).
    package let isException: Bool
    package let matchType: MatchType
    /// The literal the cheap types compare against: the whole pattern, the part before `**`, or after it.
    private let literal: [UInt8]
    let glob: IgnoreGlob

    /// Compiles one pattern text (already trimmed and cleaned, `!` removed).
    package init(_ pattern: String, isException: Bool = false) throws(DockerfileError) {
        self.pattern = pattern
        self.isException = isException
        let scalars = Array(pattern.unicodeScalars)
        var nodes: [IgnoreGlob.Node] = []
        var type = MatchType.exact
        var k = 0
        var first = true
        // Where a trailing `**` began, for the prefix literal.
        var trailingStars = scalars.count
        while k < scalars.count {
            let c = scalars[k]
            k += 1
            defer { first = false }
            switch c {
            case "*":
                guard k < scalars.count, scalars[k] == "*" else {
                    nodes.append(.star)
                    type = .regexp
                    continue
                }
                let starsStart = k - 1
                k += 1
                // `**/` is the same as `**`.
                if k < scalars.count, scalars[k] == "/" { k += 1 }
                if k == scalars.count {
                    // A trailing `**` after only literals is a plain prefix test.
                    type = type == .exact ? .prefix : .regexp
                    nodes.append(.rest)
                    trailingStars = starsStart
                } else {
                    type = .regexp
                    nodes.append(.dirsEntry)
                    nodes.append(.dirsLoop)
                }
                if first { type = .suffix }
            case "?":
                nodes.append(.one)
                type = .regexp
            case "\\":
                guard k < scalars.count else {
                    throw Self.error(pattern, "trailing backslash escapes nothing")
                }
                nodes.append(.literal(scalars[k]))
                k += 1
                type = .regexp
            case "[":
                nodes.append(.set(try Self.parseClass(scalars, &k, pattern)))
                type = .regexp
            case "]":
                nodes.append(.literal(c))
                type = .regexp
            default:
                nodes.append(.literal(c))
            }
        }
        matchType = type
        glob = IgnoreGlob(nodes)
        switch type {
        case .exact, .regexp: literal = Array(pattern.utf8)
        case .prefix: literal = Array(String(String.UnicodeScalarView(scalars[..<trailingStars])).utf8)
        // Keeps the `/` of `**/`, which is what makes `**/foo` a whole-name suffix.
        case .suffix: literal = Array(pattern.utf8.dropFirst(2))
        }
    }

    private static func error(_ pattern: String, _ why: String) -> DockerfileError {
        DockerfileError("ignore", "invalid pattern \"\(pattern)\": \(why)")
    }

    /// One class item's end point, as Go's `filepath.Match` reads it: it may not be missing, an unescaped
    /// `-` or `]`, or the last thing in the pattern (the class would never close).
    private static func classEnd(
        _ s: [Unicode.Scalar], _ k: inout Int, _ pattern: String
    ) throws(DockerfileError) -> UInt32 {
        guard k < s.count else { throw error(pattern, "unterminated character class") }
        if s[k] == "-" || s[k] == "]" {
            throw error(pattern, "character class item cannot start with '\(s[k])' (escape it)")
        }
        if s[k] == "\\" {
            k += 1
            guard k < s.count else { throw error(pattern, "unterminated character class") }
        }
        let value = s[k].value
        k += 1
        guard k < s.count else { throw error(pattern, "unterminated character class") }
        return value
    }

    /// Parses `[...]` with `k` just after the `[`, leaving `k` after the `]`.
    private static func parseClass(
        _ s: [Unicode.Scalar], _ k: inout Int, _ pattern: String
    ) throws(DockerfileError) -> IgnoreGlob.CharacterClass {
        var negated = false
        if k < s.count, s[k] == "^" {
            negated = true
            k += 1
        }
        var ranges: [IgnoreGlob.ScalarRange] = []
        while true {
            if k < s.count, s[k] == "]", !ranges.isEmpty {
                k += 1
                break
            }
            let lo = try classEnd(s, &k, pattern)
            var hi = lo
            if s[k] == "-" {
                k += 1
                hi = try classEnd(s, &k, pattern)
            }
            // A reversed range is legal and simply matches nothing.
            ranges.append(IgnoreGlob.ScalarRange(lo: lo, hi: hi))
        }
        return IgnoreGlob.CharacterClass(negated: negated, ranges: ranges)
    }

    /// Whether the pattern matches `path` itself (no ancestors).
    package func matches(_ path: String) -> Bool {
        switch matchType {
        case .exact:
            return path.utf8.elementsEqual(literal)
        case .prefix:
            return path.utf8.starts(with: literal)
        case .suffix:
            let bytes = path.utf8
            if bytes.count >= literal.count, bytes.suffix(literal.count).elementsEqual(literal) { return true }
            // `**/foo` also matches `foo` itself.
            return literal.first == UInt8(ascii: "/") && bytes.elementsEqual(literal.dropFirst())
        case .regexp:
            return glob.matches(path)
        }
    }

    /// Whether the pattern could match some path strictly inside directory `dir` (conservative: true when
    /// unsure). Decides if an excluded directory must still be walked for this exception.
    func couldMatchBelow(_ dir: String) -> Bool {
        let prefix = Array(dir.utf8) + [UInt8(ascii: "/")]
        switch matchType {
        case .exact:
            return literal.count > prefix.count && literal.starts(with: prefix)
        case .prefix:
            return literal.starts(with: prefix) || prefix.starts(with: literal)
        case .suffix:
            return true
        case .regexp:
            return glob.canContinue(after: dir + "/")
        }
    }
}
