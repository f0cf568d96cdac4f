/// A shell pattern as used by `${V#p}`, `${V%p}` and `${V/p/r}`: `*` matches any run, `?` one scalar,
/// the escape character followed by `x` the literal `x`; everything else (brackets included, as upstream)
/// is literal.
///
/// Matching is an NFA simulation over the tokens, so every query is O(pattern × text): no backtracking,
/// no regex compilation.
struct ShellPattern: Sendable {
    enum Token: Sendable, Equatable {
        case literal(Unicode.Scalar)
        case any
        case star
    }

    var tokens: [Token]

    /// Parses `pattern` as it arrives from the lexer, escapes still in place. The escape is the lexer's own,
    /// so with the backtick escape a `\` in a pattern is an ordinary (path) character.
    init(_ pattern: [Unicode.Scalar], escape: Unicode.Scalar = "\\") {
        var tokens: [Token] = []
        tokens.reserveCapacity(pattern.count)
        var i = 0
        while i < pattern.count {
            let c = pattern[i]
            switch c {
            case "*":
                // Runs of stars behave as one; collapsing keeps the state sets small.
                if tokens.last != .star { tokens.append(.star) }
            case "?":
                tokens.append(.any)
            case escape:
                if i + 1 < pattern.count {
                    i += 1
                    tokens.append(.literal(pattern[i]))
                } else {
                    // A trailing lone escape can only mean itself.
                    tokens.append(.literal(c))
                }
            default:
                tokens.append(.literal(c))
            }
            i += 1
        }
        self.tokens = tokens
    }

    private init(tokens: [Token]) { self.tokens = tokens }

    /// The pattern that matches the reversed strings, for suffix searches.
    var reversed: ShellPattern { ShellPattern(tokens: tokens.reversed()) }

    /// Adds `state` and every state reachable from it through stars (a star may match nothing).
    private func close(_ state: Int, into set: inout [Bool], list: inout [Int]) {
        var s = state
        while s <= tokens.count, !set[s] {
            set[s] = true
            list.append(s)
            guard s < tokens.count, tokens[s] == .star else { return }
            s += 1
        }
    }

    /// Lengths `k`, ascending, for which the pattern matches `text[start..<start+k]` whole. Stops at the
    /// first one when `firstOnly`, and as soon as no state is alive.
    func matchingLengths(in text: [Unicode.Scalar], from start: Int, firstOnly: Bool = false) -> [Int] {
        let accept = tokens.count
        var result: [Int] = []
        var inSet = [Bool](repeating: false, count: accept + 1)
        var current: [Int] = []
        close(0, into: &inSet, list: &current)
        var next: [Int] = []
        var pos = start
        while true {
            if inSet[accept] {
                result.append(pos - start)
                if firstOnly { break }
            }
            if pos == text.count || current.isEmpty { break }
            let c = text[pos]
            for s in current { inSet[s] = false }
            next.removeAll(keepingCapacity: true)
            for s in current where s < accept {
                switch tokens[s] {
                case .star:
                    close(s, into: &inSet, list: &next)
                case .any:
                    close(s + 1, into: &inSet, list: &next)
                case .literal(let l):
                    if l == c { close(s + 1, into: &inSet, list: &next) }
                }
            }
            swap(&current, &next)
            pos += 1
        }
        return result
    }

    /// Length of the shortest (or longest) prefix of `text` the pattern matches, if any.
    func prefixMatch(_ text: [Unicode.Scalar], longest: Bool) -> Int? {
        let lengths = matchingLengths(in: text, from: 0, firstOnly: !longest)
        return longest ? lengths.last : lengths.first
    }

    /// The leftmost match at or after `from`, taking the longest end there (what greedy stars give).
    func firstMatch(in text: [Unicode.Scalar], from: Int) -> Range<Int>? {
        var start = from
        while start <= text.count {
            if let length = matchingLengths(in: text, from: start).last {
                return start..<(start + length)
            }
            start += 1
        }
        return nil
    }
}

extension ShellPattern {
    /// `${V#p}` / `${V##p}`.
    func removingPrefix(of value: [Unicode.Scalar], longest: Bool) -> [Unicode.Scalar] {
        guard let n = prefixMatch(value, longest: longest) else { return value }
        return Array(value[n...])
    }

    /// `${V%p}` / `${V%%p}`: a prefix search on the reversed value with the reversed pattern.
    func removingSuffix(of value: [Unicode.Scalar], longest: Bool) -> [Unicode.Scalar] {
        guard let n = reversed.prefixMatch(value.reversed(), longest: longest) else { return value }
        return Array(value[..<(value.count - n)])
    }

    /// `${V/p/r}` / `${V//p/r}`. Empty matches follow the usual regex rules: an empty match right after a
    /// previous match is not replaced, and the search always advances. Nil once the result passes `limit`
    /// scalars: `${A//?/$A}` multiplies two lengths, so it is stopped while it grows, not afterwards.
    func replacing(in value: [Unicode.Scalar], with replacement: [Unicode.Scalar], all: Bool,
                   limit: Int = .max) -> [Unicode.Scalar]? {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(value.count)
        var lastEnd = 0
        var search = 0
        while search <= value.count, let m = firstMatch(in: value, from: search) {
            out.append(contentsOf: value[lastEnd..<m.lowerBound])
            if m.upperBound > lastEnd || m.lowerBound == 0 {
                out.append(contentsOf: replacement)
            }
            if out.count > limit { return nil }
            lastEnd = m.upperBound
            if !all { break }
            search = max(search + 1, m.upperBound)
        }
        out.append(contentsOf: value[lastEnd...])
        return out.count > limit ? nil : out
    }
}
