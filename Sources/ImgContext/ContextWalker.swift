import Glibc
package import ImgDockerfile

/// One surviving node of a build context.
package struct ContextEntry: Sendable, Hashable, CustomStringConvertible {
    package enum Kind: String, Sendable, Hashable {
        case file, directory, symlink
        /// FIFOs, sockets and device nodes: listed, never read through.
        case other
    }

    /// Slash-separated, relative to the context root.
    package var path: String
    package var kind: Kind

    package init(path: String, kind: Kind) {
        self.path = path
        self.kind = kind
    }

    package var description: String { "\(kind == .directory ? "dir" : kind.rawValue) \(path)" }
}

/// Walks a context directory top-down applying ignore patterns.
///
/// Excluded directories are skipped whole unless an exception could re-include something inside them;
/// such a directory is then read, and listed only if something below it survives. Symlinks are listed as
/// symlinks and never followed. Entries come in walk order: names byte-sorted within each directory, each
/// directory before its contents.
package struct ContextWalker: Sendable {
    package var root: String
    /// Filters applied together; a node survives only if every layer keeps it. A `.dockerignore` is one.
    package var layers: [IgnoreMatcher]

    package init(root: String, matcher: IgnoreMatcher? = nil) {
        self.init(root: root, layers: matcher.map { [$0] } ?? [])
    }

    package init(root: String, layers: [IgnoreMatcher]) {
        self.root = root
        self.layers = layers.filter { !$0.isEmpty }
    }

    /// The same walk COPY's source selection does (`TreeWalker`), over the whole context.
    package func walk() throws(ContextError) -> [ContextEntry] {
        try TreeWalker(root: root, filters: layers.map { WalkFilter(matcher: $0, base: "") }).walk()
            .map { ContextEntry(path: $0.path, kind: $0.kind) }
    }
}
