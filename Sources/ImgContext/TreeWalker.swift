import Glibc
import ImgDockerfile

/// Walks part of a source tree below one copy root, keeping what every filter keeps.
///
/// A node survives when no filter excludes it. An excluded directory is skipped whole unless some filter
/// that excludes it could re-include something below (a `!` exception, a `--parents` pattern); it is then
/// read, and listed only if something inside survives. Symlinks are listed, never followed. Output is in
/// walk order: names byte-sorted within a directory, each directory before its contents.
struct TreeWalker {
    /// Absolute host path of the copy root.
    let root: String
    let filters: [WalkFilter]

    /// Everything below the copy root that survives, starting the descent at `start` (components below the
    /// root, all expected to be directories but possibly the last) so that a pattern with a literal prefix
    /// never reads the rest of the tree. The components of `start` are themselves candidates.
    func walk(from start: [String] = []) throws(ContextError) -> [CopySelection.Entry] {
        var state = State(filters: filters)
        var infos = filters.map { _ in IgnoreMatchInfo() }
        var rel = ""
        for (i, name) in start.enumerated() {
            let path = SourcePath.join(rel, name)
            guard let kind = try Self.kind(of: root + "/" + path) else { return [] }
            let last = i == start.count - 1
            if !last && kind != .directory { return [] }
            let (excluded, walkable, next) = state.evaluate(path, kind: kind, parents: infos)
            let entry = CopySelection.Entry(path: path, kind: kind)
            if !excluded {
                state.emit(entry)
            } else if walkable {
                state.pending.append(entry)
            } else {
                return state.output
            }
            infos = next
            rel = path
            if last && kind != .directory { return state.output }
        }
        try state.walk(directory: root, relative: rel, parents: infos)
        return state.output
    }

    private struct State {
        let filters: [WalkFilter]
        var output: [CopySelection.Entry] = []
        var pending: [CopySelection.Entry] = []

        init(filters: [WalkFilter]) { self.filters = filters }

        mutating func emit(_ entry: CopySelection.Entry) {
            if !pending.isEmpty {
                output.append(contentsOf: pending)
                pending.removeAll(keepingCapacity: true)
            }
            output.append(entry)
        }

        /// Whether `path` is excluded, whether (being an excluded directory) it must still be read, and the
        /// per-filter results its children start from.
        func evaluate(_ path: String, kind: ContextEntry.Kind, parents: [IgnoreMatchInfo])
            -> (excluded: Bool, walkable: Bool, infos: [IgnoreMatchInfo]) {
            var infos: [IgnoreMatchInfo] = []
            infos.reserveCapacity(filters.count)
            var excludedBy: [Int] = []
            for (i, filter) in filters.enumerated() {
                let (excluded, info) = filter.matcher.matches(filter.path(path), parent: parents[i])
                infos.append(info)
                if excluded { excludedBy.append(i) }
            }
            let walkable = kind == .directory && !excludedBy.isEmpty
                && excludedBy.allSatisfy { filters[$0].matcher.mayReinclude(below: filters[$0].path(path)) }
            return (!excludedBy.isEmpty, walkable, infos)
        }

        mutating func walk(directory: String, relative: String, parents: [IgnoreMatchInfo]) throws(ContextError) {
            let absolute = relative.isEmpty ? directory : directory + "/" + relative
            for (name, kind, valid) in try TreeWalker.list(absolute) {
                let path = SourcePath.join(relative, name)
                let (excluded, walkable, infos) = evaluate(path, kind: kind, parents: parents)
                if !valid && (!excluded || walkable) {
                    throw ContextError(.io, "file name is not valid UTF-8: \(path)")
                }
                let entry = CopySelection.Entry(path: path, kind: kind)
                if !excluded {
                    emit(entry)
                    if kind == .directory { try walk(directory: directory, relative: path, parents: infos) }
                } else if walkable {
                    pending.append(entry)
                    try walk(directory: directory, relative: path, parents: infos)
                    if pending.last == entry { pending.removeLast() }
                }
            }
        }
    }

    /// The type of what is at `path`, not following a final symlink; nil when nothing is there.
    static func kind(of path: String) throws(ContextError) -> ContextEntry.Kind? {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw ContextError(.io, "cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        return kind(st.st_mode)
    }

    static func kind(_ mode: mode_t) -> ContextEntry.Kind {
        switch mode & S_IFMT {
        case S_IFDIR: .directory
        case S_IFREG: .file
        case S_IFLNK: .symlink
        default: .other
        }
    }

    /// The entries of `directory` byte-sorted, typed as `lstat` sees them, with whether the name is UTF-8.
    static func list(_ directory: String) throws(ContextError) -> [(String, ContextEntry.Kind, Bool)] {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0, let dir = fdopendir(fd) else {
            let text = String(cString: strerror(errno))
            throw ContextError(.io, "cannot read directory \(directory): \(text)")
        }
        defer { closedir(dir) }
        var entries: [([UInt8], ContextEntry.Kind)] = []
        while true {
            errno = 0
            guard let ent = readdir(dir) else {
                if errno != 0 {
                    throw ContextError(.io, "cannot read directory \(directory): \(String(cString: strerror(errno)))")
                }
                break
            }
            let name: [UInt8] = withUnsafeBytes(of: ent.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name == [46] || name == [46, 46] { continue }
            let kind: ContextEntry.Kind
            switch Int32(ent.pointee.d_type) {
            case Int32(DT_DIR): kind = .directory
            case Int32(DT_REG): kind = .file
            case Int32(DT_LNK): kind = .symlink
            case Int32(DT_UNKNOWN):
                var st = stat()
                let text = String(decoding: name, as: UTF8.self)
                guard fstatat(dirfd(dir), text, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
                    throw ContextError(.io, "cannot stat \(directory)/\(text): \(String(cString: strerror(errno)))")
                }
                kind = Self.kind(st.st_mode)
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
}
