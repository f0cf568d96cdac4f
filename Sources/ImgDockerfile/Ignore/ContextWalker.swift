#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    package func walk() throws(DockerfileError) -> [ContextEntry] {
        var state = WalkState(layers: layers)
        try state.walk(directory: root, relative: "", parents: layers.map { _ in IgnoreMatchInfo() })
        return state.output
    }
}

private struct WalkState {
    let layers: [IgnoreMatcher]
    var output: [ContextEntry] = []
    /// Excluded directories being read on behalf of a possible exception, not yet listed.
    var pending: [ContextEntry] = []

    init(layers: [IgnoreMatcher]) { self.layers = layers }

    mutating func emit(_ entry: ContextEntry) {
        if !pending.isEmpty {
            output.append(contentsOf: pending)
            pending.removeAll(keepingCapacity: true)
        }
        output.append(entry)
    }

    mutating func walk(directory: String, relative: String, parents: [IgnoreMatchInfo]) throws(DockerfileError) {
        for (name, kind, validName) in try Self.list(directory) {
            let path = relative.isEmpty ? name : relative + "/" + name
            var infos: [IgnoreMatchInfo] = []
            infos.reserveCapacity(layers.count)
            var excludedBy: [Int] = []
            for (i, layer) in layers.enumerated() {
                let (excluded, info) = layer.matches(path, parent: parents[i])
                infos.append(info)
                if excluded { excludedBy.append(i) }
            }
            let entry = ContextEntry(path: path, kind: kind)
            let absolute = directory + "/" + name
            let walkExcluded = kind == .directory && !excludedBy.isEmpty
                && excludedBy.allSatisfy({ layers[$0].mayReinclude(below: path) })
            // A name that is not UTF-8 cannot be carried as a path string without changing it; refuse it
            // unless the patterns leave it out.
            if !validName && (excludedBy.isEmpty || walkExcluded) {
                throw DockerfileError(
                    "context", "file name is not valid UTF-8: \(path) (exclude it in .dockerignore)")
            }
            if excludedBy.isEmpty {
                emit(entry)
                if kind == .directory {
                    try walk(directory: absolute, relative: path, parents: infos)
                }
            } else if walkExcluded {
                pending.append(entry)
                try walk(directory: absolute, relative: path, parents: infos)
                if pending.last == entry { pending.removeLast() }
            }
        }
    }

    /// The entries of `directory` (without `.` and `..`), byte-sorted by name, with their types as lstat
    /// sees them (so symlinks stay symlinks), and whether the name is valid UTF-8.
    static func list(_ directory: String) throws(DockerfileError) -> [(String, ContextEntry.Kind, Bool)] {
        guard let dir = opendir(directory) else {
            throw DockerfileError("context", "cannot read directory \(directory): \(errnoText())")
        }
        defer { closedir(dir) }
        var entries: [([UInt8], ContextEntry.Kind)] = []
        while true {
            errno = 0
            guard let ent = readdir(dir) else {
                if errno != 0 {
                    throw DockerfileError("context", "cannot read directory \(directory): \(errnoText())")
                }
                break
            }
            let name: [UInt8] = withUnsafeBytes(of: ent.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            if name == [46] || name == [46, 46] { continue }
            let kind: ContextEntry.Kind
            switch Int32(ent.pointee.d_type) {
            case Int32(DT_DIR): kind = .directory
            case Int32(DT_REG): kind = .file
            case Int32(DT_LNK): kind = .symlink
            case Int32(DT_UNKNOWN): kind = try lstatKind(directory + "/" + String(decoding: name, as: UTF8.self))
            default: kind = .other
            }
            entries.append((name, kind))
        }
        entries.sort { $0.0.lexicographicallyPrecedes($1.0) }
        return entries.map { name, kind in
            if let valid = String(validating: name, as: UTF8.self) { return (valid, kind, true) }
            return (String(decoding: name, as: UTF8.self), kind, false)
        }
    }

    /// For file systems that do not report types in `readdir`.
    static func lstatKind(_ path: String) throws(DockerfileError) -> ContextEntry.Kind {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            throw DockerfileError("context", "cannot stat \(path): \(errnoText())")
        }
        switch st.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFREG: return .file
        case S_IFLNK: return .symlink
        default: return .other
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
