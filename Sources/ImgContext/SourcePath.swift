import ImgDockerfile

/// Source and destination path text, cleaned the way docker does before anything touches the disk.
enum SourcePath {
    /// The components of `path` taken relative to a root: empty and `.` parts dropped, `..` folded, and a
    /// `..` that would climb above the root dropped (docker turns `COPY ../x` into `COPY x`).
    static func components(_ path: String) -> [String] {
        var result: [String] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !result.isEmpty { result.removeLast() }
            default: result.append(String(part))
            }
        }
        return result
    }

    static func join(_ components: some Sequence<String>) -> String { components.joined(separator: "/") }

    static func join(_ base: String, _ rel: String) -> String {
        if base.isEmpty { return rel }
        if rel.isEmpty { return base }
        return base + "/" + rel
    }

    /// Whether a component holds a character Go's `filepath.Match` gives meaning to.
    static func hasMeta(_ component: String) -> Bool {
        component.utf8.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "\\") }
    }

    static func lastComponent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}

/// One path component matched with Go's `filepath.Match` rules (`*`, `?`, `[a-z]`, `[^x]`, `\` escapes),
/// as BuildKit resolves wildcards in COPY sources one component at a time. Within a single name, the
/// `.dockerignore` automaton has exactly these semantics, so it is reused.
struct ComponentPattern {
    let text: String
    private let pattern: IgnorePattern

    init(_ text: String) throws(ContextError) {
        self.text = text
        do throws(DockerfileError) { pattern = try IgnorePattern(text) } catch {
            throw ContextError(.invalidPattern, "invalid source pattern \(text): \(error.message)")
        }
    }

    func matches(_ name: String) -> Bool { pattern.matches(name) }
}

/// A `.dockerignore`-style filter and where its paths are rooted, applied during a walk.
struct WalkFilter {
    var matcher: IgnoreMatcher
    /// Joined before walk-relative paths: the copy root's place in the context for `.dockerignore`, empty
    /// for `--exclude` and `--parents` patterns (they are relative to what is copied).
    var base: String

    func path(_ rel: String) -> String { SourcePath.join(base, rel) }

    /// The `--parents` source pattern as a filter that keeps only what it matches (or what lies below a
    /// match): everything is excluded by `**`, then re-included by the pattern as an exception. That gives
    /// the include semantics and, through `mayReinclude`, the pruning of directories that cannot match.
    static func include(_ pattern: String) throws(ContextError) -> WalkFilter {
        do throws(DockerfileError) {
            return WalkFilter(matcher: try IgnoreMatcher(patterns: ["**", "!" + pattern]), base: "")
        } catch {
            throw ContextError(.invalidPattern, "invalid source pattern \(pattern): \(error.message)")
        }
    }

    static func exclude(_ patterns: [String]) throws(ContextError) -> WalkFilter? {
        guard !patterns.isEmpty else { return nil }
        do throws(DockerfileError) {
            return WalkFilter(matcher: try IgnoreMatcher(patterns: patterns), base: "")
        } catch {
            throw ContextError(.invalidPattern, "invalid --exclude pattern: \(error.message)")
        }
    }
}
