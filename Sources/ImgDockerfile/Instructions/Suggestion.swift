/// "Did you mean" lookups by edit distance, as BuildKit suggests close names in its messages.
package enum Suggestion {
    /// The candidate closest to `word` when it is near enough to be a likely typo.
    package static func closest(to word: String, in candidates: some Sequence<String>, caseSensitive: Bool = true)
        -> String?
    {
        guard !word.isEmpty else { return nil }
        let key = caseSensitive ? word : word.lowercased()
        // Short words tolerate fewer edits, or every two-letter word would match something.
        let limit = min(2, max(1, key.count / 2))
        var best: (String, Int)?
        for candidate in candidates {
            let other = caseSensitive ? candidate : candidate.lowercased()
            if other == key { continue }
            let distance = editDistance(Array(key), Array(other))
            if distance <= limit, distance < (best?.1 ?? Int.max) { best = (candidate, distance) }
        }
        return best?.0
    }

    /// Levenshtein distance.
    package static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
