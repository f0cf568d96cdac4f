import Glibc
package import ImgDockerfile
import ImgSystem

/// What one COPY/ADD selects: resolved entries, in a stable order. Built by reading only what the sources
/// name: a single file is one `lstat`, a wildcard lists only the directories its components reach, and only
/// a directory source (or a `--parents` pattern) walks, below that directory.
package struct CopySelection: Sendable, Hashable {
    /// One node below a directory root.
    package struct Entry: Sendable, Hashable {
        /// Slash-separated, relative to the root's `path`.
        package var path: String
        package var kind: ContextEntry.Kind

        package init(path: String, kind: ContextEntry.Kind) {
            self.path = path
            self.kind = kind
        }
    }

    /// One matched source.
    package struct Root: Sendable, Hashable {
        /// Where it is in the tree with symlinks resolved: slash-separated, relative to the tree root, ""
        /// for the root itself.
        package var path: String
        /// The name it is copied under: its last component as written or matched, before a symlink was
        /// followed (`COPY link /d/` makes `/d/link`).
        package var name: String
        package var kind: ContextEntry.Kind
        /// For a directory: what is copied from inside it (its contents, never itself), parents first.
        package var contents: [Entry]
    }

    package var tree: SourceTree
    package var roots: [Root]

    /// Selects `sources` (as written after variable expansion) from `tree`.
    ///
    /// - `excludes`: `--exclude` patterns (`.dockerignore` syntax), matched against a matched source's name
    ///   and against paths inside a directory source relative to it.
    /// - `parents`: `--parents`: each source is a pattern below an optional `/./` pivot; matched paths keep
    ///   their directories from the pivot (the tree root without one).
    /// - `followRootSymlinks`: a source that is itself a symlink is copied as what it points to (resolved
    ///   inside the tree), as BuildKit's COPY does; symlinks below a directory source are never followed.
    package static func select(_ sources: [String], in tree: SourceTree, excludes: [String] = [], parents: Bool = false,
                               followRootSymlinks: Bool = false) throws(ContextError) -> CopySelection {
        let selector = try Selector(tree: tree, excludes: excludes, followRootSymlinks: followRootSymlinks)
        var roots: [Root] = []
        var matchedAnything = false
        for source in sources {
            if parents {
                if let root = try selector.selectParents(source) {
                    roots.append(root)
                    matchedAnything = true
                }
                continue
            }
            let components = SourcePath.components(source)
            if components.contains(where: SourcePath.hasMeta) {
                let matches = try selector.expand(components)
                matchedAnything = matchedAnything || !matches.isEmpty
                roots.append(contentsOf: matches.filter { !selector.isExcludedRoot($0) })
            } else {
                let root = try selector.selectLiteral(components, written: source)
                matchedAnything = true
                if !selector.isExcludedRoot(root) { roots.append(root) }
            }
        }
        // Wildcards that match nothing select nothing, as BuildKit's COPY allows empty wildcards (the step
        // then makes no files, not even the destination); a literal source that is missing failed above.
        guard matchedAnything || !parents else {
            throw ContextError(.noSources, "no source files were specified")
        }
        return CopySelection(tree: tree, roots: roots)
    }
}

/// The reading side of `select`.
private struct Selector {
    let tree: SourceTree
    let exclude: WalkFilter?
    let followRootSymlinks: Bool
    let rooted: RootedDirectory

    init(tree: SourceTree, excludes: [String], followRootSymlinks: Bool) throws(ContextError) {
        self.tree = tree
        exclude = try WalkFilter.exclude(excludes)
        self.followRootSymlinks = followRootSymlinks
        do { rooted = try RootedDirectory(path: tree.root) } catch {
            throw ContextError(.io, "cannot open the source directory: \(error)")
        }
    }

    func hostPath(_ rel: String) -> String { rel.isEmpty ? tree.root : tree.root + "/" + rel }

    /// A source without wildcards: it must exist and be visible.
    func selectLiteral(_ components: [String], written: String) throws(ContextError) -> CopySelection.Root {
        let display = components.isEmpty ? "." : SourcePath.join(components)
        guard case let (resolved, kind)? = try resolve(components) else {
            throw ContextError(.notFound, tree.keepsOwnership
                ? "file not found: /\(SourcePath.join(components))"
                : "file not found in build context: \(display)")
        }
        guard let root = try visibleRoot(logical: display, resolved: resolved, kind: kind, name: components.last ?? "") else {
            throw ContextError(.notFound, "file not found in build context or excluded by .dockerignore: \(display)")
        }
        return root
    }

    /// The matches of a source with wildcards, component by component as BuildKit resolves them, sorted.
    /// Matching nothing is not an error here.
    func expand(_ components: [String]) throws(ContextError) -> [CopySelection.Root] {
        // (path as matched, path with symlinks of the directories resolved)
        var current: [([String], [String])] = [([], [])]
        for component in components {
            var next: [([String], [String])] = []
            if SourcePath.hasMeta(component) {
                let pattern = try ComponentPattern(component)
                for (logical, resolved) in current {
                    guard let directory = try? rooted.openDirectory(resolved) else { continue }
                    let names: [String]
                    do { names = try DirectoryEntries.names(in: directory.fd) } catch {
                        throw ContextError(.io, "cannot read directory \(SourcePath.join(logical)): \(error)")
                    }
                    for name in names where pattern.matches(name) {
                        next.append((logical + [name], directory.path + [name]))
                    }
                }
            } else {
                next = current.map { ($0.0 + [component], $0.1 + [component]) }
            }
            current = next
            if current.isEmpty { return [] }
        }
        var roots: [CopySelection.Root] = []
        for (logical, unresolved) in current {
            guard case let (resolved, kind)? = try resolve(unresolved),
                  let root = try visibleRoot(logical: SourcePath.join(logical), resolved: resolved, kind: kind,
                                             name: logical.last ?? "")
            else { continue }
            roots.append(root)
        }
        return roots
    }

    /// A `--parents` source: the pivot directory as the root, with what the pattern matches below it (and the
    /// directories leading there) as its contents. Nil when a wildcard pattern matched nothing.
    func selectParents(_ source: String) throws(ContextError) -> CopySelection.Root? {
        let pivotText: String
        let patternText: String
        if let range = source.range(of: "/./") {
            pivotText = String(source[..<range.lowerBound])
            patternText = String(source[range.upperBound...])
        } else {
            pivotText = "/"
            patternText = source
        }
        let patternComponents = SourcePath.components(patternText)
        let pivotComponents = SourcePath.components(pivotText)
        guard case let (pivot, pivotKind)? = try resolve(pivotComponents, followFinal: true), pivotKind == .directory else {
            throw ContextError(.notFound, "file not found in build context: \(SourcePath.join(pivotComponents))")
        }
        let pivotPath = SourcePath.join(pivot)
        let literal = patternComponents.prefix { !SourcePath.hasMeta($0) }
        var filters: [WalkFilter] = []
        if !patternComponents.isEmpty { filters.append(try WalkFilter.include(SourcePath.join(patternComponents))) }
        if let ignore = tree.ignore { filters.append(WalkFilter(matcher: ignore, base: pivotPath)) }
        if let exclude { filters.append(exclude) }
        let contents = try TreeWalker(root: hostPath(pivotPath), filters: filters).walk(from: Array(literal))
        if contents.isEmpty {
            if literal.count == patternComponents.count {
                let display = SourcePath.join(pivotComponents + patternComponents)
                throw ContextError(.notFound, "file not found in build context: \(display.isEmpty ? "." : display)")
            }
            return nil
        }
        return CopySelection.Root(path: pivotPath, name: pivot.last ?? "", kind: .directory, contents: contents)
    }

    /// The root for a match, or nil when `.dockerignore` hides it. An ignored directory is still visible when
    /// an exception re-includes something inside it, with only that inside.
    func visibleRoot(logical: String, resolved: [String], kind: ContextEntry.Kind, name: String) throws(ContextError) -> CopySelection.Root? {
        let path = SourcePath.join(resolved)
        var ignored = false
        if let ignore = tree.ignore {
            ignored = (!logical.isEmpty && logical != "." && ignore.matches(logical)) || (!path.isEmpty && ignore.matches(path))
        }
        guard kind == .directory else {
            return ignored ? nil : CopySelection.Root(path: path, name: name, kind: kind, contents: [])
        }
        if ignored, let ignore = tree.ignore, !ignore.mayReinclude(below: path) { return nil }
        var filters: [WalkFilter] = []
        if let ignore = tree.ignore { filters.append(WalkFilter(matcher: ignore, base: path)) }
        if let exclude { filters.append(exclude) }
        let contents = try TreeWalker(root: hostPath(path), filters: filters).walk()
        if ignored && contents.isEmpty { return nil }
        return CopySelection.Root(path: path, name: name, kind: kind, contents: contents)
    }

    /// Whether `--exclude` drops a matched source, judged by its name.
    func isExcludedRoot(_ root: CopySelection.Root) -> Bool {
        guard let exclude, !root.name.isEmpty else { return false }
        return exclude.matcher.matches(root.name)
    }

    /// Resolves `components` inside the tree: directories on the way follow symlinks (as if the tree were
    /// `/`), the last component only when `followFinal`. Nil when nothing is there.
    func resolve(_ components: [String], followFinal: Bool? = nil) throws(ContextError) -> ([String], ContextEntry.Kind)? {
        let follow = followFinal ?? followRootSymlinks
        var current = components
        var links = 0
        while true {
            if current.isEmpty { return ([], .directory) }
            let parent: OpenDirectory
            let name: String
            do throws(SystemError) { (parent, name) = try rooted.openParent(current) } catch {
                if error.code == ENOENT || error.code == ENOTDIR { return nil }
                throw ContextError(.io, "cannot resolve \(SourcePath.join(components)): \(error)")
            }
            let status: FileStatus?
            do { status = try FileStatus.at(parent.fd, name) } catch {
                throw ContextError(.io, "cannot stat \(SourcePath.join(components)): \(error)")
            }
            guard let status else { return nil }
            let resolved = parent.path + [name]
            guard status.kind == .symlink, follow else {
                return (resolved, Self.kind(status.kind))
            }
            links += 1
            guard links <= RootedDirectory.maxSymlinks, let target = RootedDirectory.readLink(parent.fd, name) else {
                throw ContextError(.io, "cannot resolve \(SourcePath.join(components)): too many levels of symbolic links")
            }
            // Lexical folding is sound here: the prefix is already free of symlinks.
            current = SourcePath.components(target.hasPrefix("/") ? target : SourcePath.join(parent.path) + "/" + target)
        }
    }

    static func kind(_ kind: FileStatus.Kind) -> ContextEntry.Kind {
        switch kind {
        case .regular: .file
        case .directory: .directory
        case .symlink: .symlink
        default: .other
        }
    }
}
