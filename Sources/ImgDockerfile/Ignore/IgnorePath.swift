/// Slash-path helpers with Go's `path.Clean` / `filepath.Dir` behaviour (Unix), which `.dockerignore`
/// semantics are defined in terms of.
package enum IgnorePath {
    /// Lexical cleaning: `a/` → `a`, `./a` → `a`, `a//b` → `a/b`, `a/../b` → `b`, `/../a` → `/a`,
    /// `../a` stays; empty → `.`.
    package static func clean(_ path: String) -> String {
        if path.isEmpty { return "." }
        let rooted = path.utf8.first == UInt8(ascii: "/")
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".":
                continue
            case "..":
                if let last = parts.last, last != ".." {
                    parts.removeLast()
                } else if !rooted {
                    parts.append(part)
                }
            default:
                parts.append(part)
            }
        }
        let body = parts.joined(separator: "/")
        if rooted { return "/" + body }
        return body.isEmpty ? "." : body
    }

    /// Everything but the last element, cleaned (`a/b` → `a`, `a` → `.`, `file/` → `file`, `/` → `/`).
    package static func dir(_ path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        return clean(String(path[...slash]))
    }

    /// The ancestors a path is checked against: the prefixes of `dir(path)` split at `/`, shortest first.
    /// Empty when the directory is `.`.
    static func ancestors(_ path: String) -> [String] {
        let parent = dir(path)
        if parent == "." { return [] }
        let parts = parent.split(separator: "/", omittingEmptySubsequences: false)
        var result: [String] = []
        result.reserveCapacity(parts.count)
        var current = ""
        for (i, part) in parts.enumerated() {
            current += i == 0 ? String(part) : "/" + part
            result.append(current)
        }
        return result
    }
}
