/// A syntax check of image references (`[registry[:port]/]path[:tag][@digest]`), enough to tell whether a
/// FROM line names something pullable. It does not normalize or resolve anything.
package enum ImageReferenceSyntax {
    package static func isValid(_ reference: String) -> Bool {
        var rest = Substring(reference)
        guard !rest.isEmpty, !rest.contains(where: { $0 == " " || $0 == "\t" || $0 == "\n" }) else { return false }
        if let at = rest.firstIndex(of: "@") {
            let digest = rest[rest.index(after: at)...]
            guard let colon = digest.firstIndex(of: ":"), colon != digest.startIndex,
                  digest[digest.index(after: colon)...].count >= 32,
                  digest[digest.index(after: colon)...].allSatisfy(\.isHexDigit)
            else { return false }
            rest = rest[..<at]
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard let last = components.popLast() else { return false }
        // The tag is after the last `:` of the last component (a registry port is in the first one).
        var repository = last
        if let colon = last.firstIndex(of: ":") {
            let tag = last[last.index(after: colon)...]
            guard isValidTag(tag) else { return false }
            repository = last[..<colon]
        }
        if let first = components.first, first.contains(".") || first.contains(":") || first == "localhost" {
            guard isValidHost(first) else { return false }
            components.removeFirst()
        }
        return (components + [repository]).allSatisfy(isValidPathComponent)
    }

    private static func isValidTag(_ tag: Substring) -> Bool {
        guard let first = tag.first, first.isASCII, first.isLetter || first.isNumber || first == "_",
              tag.count <= 128
        else { return false }
        return tag.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "-") }
    }

    private static func isValidHost(_ host: Substring) -> Bool {
        !host.isEmpty && host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".-:[]".contains($0)) }
    }

    /// Lower-case letters and digits, separated by `.`, `_`, `__` or runs of `-`.
    private static func isValidPathComponent(_ component: Substring) -> Bool {
        guard let first = component.first, let last = component.last,
              isLowerAlnum(first), isLowerAlnum(last)
        else { return false }
        var previousSeparator: Character?
        var separatorRun = 0
        for ch in component {
            if isLowerAlnum(ch) {
                previousSeparator = nil
                separatorRun = 0
                continue
            }
            guard ch == "." || ch == "_" || ch == "-" else { return false }
            if let previous = previousSeparator {
                // `__` and `---` are fine; `._`, `..` and `___` are not.
                let allowed = (previous == "-" && ch == "-") || (previous == "_" && ch == "_" && separatorRun == 1)
                guard allowed else { return false }
            }
            previousSeparator = ch
            separatorRun += 1
        }
        return true
    }

    private static func isLowerAlnum(_ ch: Character) -> Bool {
        ch.isASCII && (ch.isNumber || (ch.isLetter && ch.isLowercase))
    }
}
