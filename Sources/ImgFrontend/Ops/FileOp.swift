package import ImgGraph
package import ImgOCI

/// The file op: files written into the parent's filesystem.
package enum FileOp: Sendable, Hashable {
    /// COPY or ADD.
    case copy(CopyOp)
    /// WORKDIR: the working directory (as written; relative to the previous one) is set and made.
    case makeWorkingDirectory(String)

    /// The key of a WORKDIR step once its absolute path is known.
    package static func workingDirectoryKey(parent: Digest, path: String) -> CacheKeyBuilder {
        var key = CacheKeyBuilder(kind: "workdir")
        key.add("parent", parent)
        key.add("path", path)
        return key
    }
}

/// COPY or ADD: the sources (what `SourceResolution` in the worker turns into files) and how they land.
package struct CopyOp: Sendable, Hashable {
    /// `COPY` or `ADD`, for messages, history and the key's kind.
    package var keyword: String
    /// Paths (patterns) in the context, or in `from` when set. URLs of an ADD are in `urls`.
    package var paths: [String]
    /// Where `paths` are read: the context when nil.
    package var from: CopyFrom?
    /// ADD's http(s) sources, fetched when the step runs (the http source op).
    package var urls: [String]
    /// ADD's git sources (`https://host/repo.git#ref:subdir`, `git@host:repo.git`), fetched when the step
    /// runs (the git source op).
    package var gitSources: [String]
    /// ADD `--keep-git-dir`: the git sources keep their `.git`.
    package var keepGitDir: Bool
    /// Inline files (`COPY <<EOF /dest`).
    package var inline: [InlineFile]
    /// The sources as written, for the history line (`<<EOF` for inline files).
    package var written: [String]
    /// The destination as written (relative ones are under WORKDIR).
    package var destination: String
    package var chown: String?
    package var chmod: String?
    package var excludes: [String]
    package var parents: Bool
    /// `--link`: made on an empty filesystem (see `BuildOp.merge`).
    package var link: Bool
    /// ADD `--checksum` of a URL source (a digest) or a git source (a commit).
    package var checksum: String?

    package init(keyword: String, paths: [String], from: CopyFrom? = nil, urls: [String] = [], gitSources: [String] = [],
                 inline: [InlineFile] = [], written: [String], destination: String, chown: String? = nil,
                 chmod: String? = nil, excludes: [String] = [], parents: Bool = false, link: Bool = false,
                 checksum: String? = nil, keepGitDir: Bool = false) {
        self.keepGitDir = keepGitDir
        self.keyword = keyword
        self.paths = paths
        self.from = from
        self.urls = urls
        self.gitSources = gitSources
        self.inline = inline
        self.written = written
        self.destination = destination
        self.chown = chown
        self.chmod = chmod
        self.excludes = excludes
        self.parents = parents
        self.link = link
        self.checksum = checksum
    }

    package var isAdd: Bool { keyword == "ADD" }

    /// `COPY --from=`: a stage of this build (among the vertex's inputs) or an image.
    package enum CopyFrom: Sendable, Hashable {
        case stage(StageInput)
        case image(String)
        /// A `--build-context` directory, by its name: read as the main context is (its own ignore file).
        case context(String)

        package var name: String {
            switch self {
            case .stage(let input): input.name
            case .image(let reference), .context(let reference): reference
            }
        }
    }

    /// What stands for the content of the sources in the key.
    package enum ContentKey: Sendable, Hashable {
        /// No path sources (only URLs or inline files).
        case nothing
        /// The checksum of the files selected in the context.
        case context(Digest)
        /// The key of the stage copied from.
        case stage(Digest)
        /// The manifest of the image copied from.
        case image(Digest)
    }

    /// A fetched URL: where it came from, the file name it gets, and its content digest.
    package struct Fetched: Sendable, Hashable {
        package var url: String
        package var name: String
        package var digest: Digest

        package init(url: String, name: String, digest: Digest) {
            self.url = url
            self.name = name
            self.digest = digest
        }
    }

    /// What the worker resolves before the copy can be keyed.
    package struct Inputs: Sendable {
        /// The parent's key; left out for `--link` (the platform stands in).
        package var parent: Digest
        package var platform: Platform
        /// The absolute destination.
        package var destination: String
        /// `--chown` with names turned into ids for `--link`.
        package var chown: String?
        /// Inline files with their bodies expanded.
        package var inline: [InlineFile]
        package var fetched: [Fetched]?
        /// The git sources: each address (no credentials) with the commit it resolved to.
        package var git: [String]
        package var content: ContentKey

        package init(parent: Digest, platform: Platform, destination: String, chown: String?, inline: [InlineFile],
                     fetched: [Fetched]?, git: [String] = [], content: ContentKey) {
            self.git = git
            self.parent = parent
            self.platform = platform
            self.destination = destination
            self.chown = chown
            self.inline = inline
            self.fetched = fetched
            self.content = content
        }
    }

    /// The key: the sources' content (not their mtimes), where and how they are written, and the parent
    /// unless `--link`.
    package func cacheKey(_ inputs: Inputs) -> CacheKeyBuilder {
        var key = CacheKeyBuilder(kind: keyword.lowercased())
        if link {
            key.add("platform", inputs.platform.description)
        } else {
            key.add("parent", inputs.parent)
        }
        key.add("destination", inputs.destination)
        key.add("sources", paths)
        key.add("excludes", excludes)
        key.add("chown", inputs.chown ?? "")
        key.add("chmod", chmod ?? "")
        key.add("parents", parents)
        key.add("link", link)
        for file in inputs.inline { key.add("heredoc", [file.name, file.content]) }
        if let fetched = inputs.fetched { key.add("remote", fetched.flatMap { [$0.url, $0.name, $0.digest.description] }) }
        if !inputs.git.isEmpty {
            key.add("git", inputs.git)
            key.add("keep-git-dir", keepGitDir)
        }
        switch inputs.content {
        case .nothing: break
        case .context(let checksum): key.add("checksum", checksum)
        case .stage(let stageKey): key.add("from-stage", stageKey)
        case .image(let manifest): key.add("from-image", manifest)
        }
        return key
    }

    /// docker's history text: `COPY a b /dest # buildkit`.
    package var createdBy: String {
        "\(keyword) \(written.joined(separator: " ")) \(destination) # buildkit"
    }
}

/// The merge op: a `--link` copy's own layer on top of the parent.
package struct MergeOp: Sendable, Hashable {
    /// The copy, made on an empty filesystem and keyed without the parent.
    package var copy: CopyOp

    package init(copy: CopyOp) { self.copy = copy }

    /// The merged result's key: the parent and the linked layer's key.
    package static func cacheKey(parent: Digest, linked: Digest) -> CacheKeyBuilder {
        var key = CacheKeyBuilder(kind: "merge")
        key.add("parent", parent)
        key.add("linked", linked)
        return key
    }
}
