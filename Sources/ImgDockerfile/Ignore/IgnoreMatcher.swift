/// Per-pattern results for one directory, handed down to its children during a top-down walk so that
/// ancestors are never re-matched. The empty value means "no parent information".
package struct IgnoreMatchInfo: Sendable, Hashable {
    /// `hits[i]`: pattern `i` matched the directory or one of its ancestors.
    package var hits: [Bool]

    package init() { hits = [] }
    init(hits: [Bool]) { self.hits = hits }
}

/// A compiled `.dockerignore` pattern list with BuildKit's semantics.
///
/// Decision: start not excluded; go through the patterns in order; a normal pattern is tried only while
/// not excluded, an exception only while excluded; a pattern hits when it matches the path or any of its
/// ancestor directories, and a hit sets "excluded" to "not an exception".
package struct IgnoreMatcher: Sendable, Hashable {
    package let patterns: [IgnorePattern]
    /// Indices of exception patterns, for the walker's "could anything below be re-included" question.
    private let exceptionIndices: [Int]

    /// Builds the matcher. Patterns are trimmed, empty ones dropped, a leading `!` marks an exception, and
    /// the rest is path-cleaned. Errors name the pattern (and `file`/`lines` when given).
    package init(patterns: [String], file: String? = nil, lines: [Int]? = nil) throws(DockerfileError) {
        var compiled: [IgnorePattern] = []
        compiled.reserveCapacity(patterns.count)
        for (index, raw) in patterns.enumerated() {
            var text = IgnoreFile.trimmed(raw)
            if text.isEmpty { continue }
            let line = lines.flatMap { index < $0.count ? $0[index] : nil }
            var exception = false
            if text.unicodeScalars.first == "!" {
                if text == "!" {
                    throw DockerfileError("ignore", "illegal exclusion pattern: \"!\"", file: file, line: line)
                }
                exception = true
                text = String(text.unicodeScalars.dropFirst())
            }
            do {
                compiled.append(try IgnorePattern(IgnorePath.clean(text), isException: exception))
            } catch {
                throw DockerfileError(error.code, error.message, file: file ?? error.file, line: line)
            }
        }
        self.patterns = compiled
        exceptionIndices = compiled.indices.filter { compiled[$0].isException }
    }

    /// Reads ignore-file text and builds its matcher, errors placed at the offending line of `file`.
    package init(ignoreFileText text: String, file: String? = nil) throws(DockerfileError) {
        let entries = IgnoreFile.entries(text)
        try self.init(patterns: entries.map(\.pattern), file: file, lines: entries.map(\.line))
    }

    package var isEmpty: Bool { patterns.isEmpty }
    package var hasExceptions: Bool { !exceptionIndices.isEmpty }

    /// Whether `path` (slash-separated, relative to the context root, used as given) is excluded, looking
    /// at the path and each of its ancestor directories.
    package func matches(_ path: String) -> Bool {
        var excluded = false
        var ancestors: [String]? = nil
        for pattern in patterns where pattern.isException == excluded {
            var hit = pattern.matches(path)
            if !hit {
                if ancestors == nil { ancestors = IgnorePath.ancestors(path) }
                hit = ancestors!.contains { pattern.matches($0) }
            }
            if hit { excluded = !pattern.isException }
        }
        return excluded
    }

    /// The same decision using the parent directory's results; returns this path's results for its
    /// children. With an empty `parent`, ancestors are matched directly (as `matches(_:)` does).
    package func matches(_ path: String, parent: IgnoreMatchInfo) -> (excluded: Bool, info: IgnoreMatchInfo) {
        let known = parent.hits.count == patterns.count && !patterns.isEmpty
        var ancestors: [String]? = nil
        var hits = [Bool](repeating: false, count: patterns.count)
        var excluded = false
        for (i, pattern) in patterns.enumerated() {
            // Every pattern's hit is recorded, even one the decision skips: a child may need it.
            var hit = known && parent.hits[i]
            if !hit { hit = pattern.matches(path) }
            if !hit && !known {
                if ancestors == nil { ancestors = IgnorePath.ancestors(path) }
                hit = ancestors!.contains { pattern.matches($0) }
            }
            hits[i] = hit
            if hit && pattern.isException == excluded { excluded = !pattern.isException }
        }
        return (excluded, IgnoreMatchInfo(hits: hits))
    }

    /// Whether an exception could re-include something strictly inside excluded directory `dir`. When
    /// false, the directory's whole subtree is excluded and need not be read.
    package func mayReinclude(below dir: String) -> Bool {
        exceptionIndices.contains { patterns[$0].couldMatchBelow(dir) }
    }

    /// The deprecated `Matches(file, patterns)` semantics: the path is cleaned, `.` never matches, and only
    /// the one ancestor with as many components as the pattern is tried.
    package static func legacyMatches(_ path: String, patterns: [String]) throws(DockerfileError) -> Bool {
        let matcher = try IgnoreMatcher(patterns: patterns)
        let file = IgnorePath.clean(path)
        if file == "." { return false }
        let parent = IgnorePath.dir(file)
        let parentParts = parent.split(separator: "/", omittingEmptySubsequences: false)
        var excluded = false
        for pattern in matcher.patterns where pattern.isException == excluded {
            var hit = pattern.matches(file)
            if !hit && parent != "." {
                let depth = pattern.pattern.split(separator: "/", omittingEmptySubsequences: false).count
                if depth <= parentParts.count {
                    hit = pattern.matches(parentParts[..<depth].joined(separator: "/"))
                }
            }
            if hit { excluded = !pattern.isException }
        }
        return excluded
    }
}
