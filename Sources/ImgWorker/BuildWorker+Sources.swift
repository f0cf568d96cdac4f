import Foundation
import Glibc
import ImgContext
import ImgFrontend
import ImgGraph
import ImgOCI
import ImgSystem

/// Source resolution for a copy: what its sources are when the step runs (the context's selected files, a
/// stage's or an image's filesystem, downloaded URLs, expanded inline files) and what stands for their
/// content in its key. The file op (`BuildWorker+Copy`) then writes them.
extension BuildWorker {
    /// A copy's sources, resolved. `removeDownloads()` when the step is done.
    struct ResolvedSources {
        /// Where the path sources are read.
        enum Origin {
            case nothing
            case context(CopySelection)
            /// A stage's or an image's result, whose filesystem is mounted to select from.
            case filesystem(BuildState)
        }

        var origin: Origin
        var content: CopyOp.ContentKey
        var remote: RemoteSources?
        /// Git sources with their commits; checked out only when the step runs (a hit never clones).
        var git: [GitSource] = []
        var inline: [InlineFile]

        func removeDownloads() { remote?.remove() }
    }

    /// One git source of an ADD, resolved to a commit.
    struct GitSource {
        var address: GitAddress
        var commit: String
        /// The remote ref that named the commit (nil: given as a commit).
        var ref: String?
        var credentials: GitCredentials

        /// What stands for it in the key: the address without credentials, and the commit.
        var keyEntry: String { "\(address.display)@\(commit)" }
    }

    /// URLs of one ADD, downloaded.
    struct RemoteSources {
        var directory: String
        var files: [CopyOp.Fetched]

        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// Resolves `copy`'s sources: inline files expanded with the stage's variables, URLs fetched (their
    /// digests join the key, so a changed remote file is a miss), path sources found in the context (their
    /// content checksum), a stage (its key) or an image (its manifest).
    func resolveSources(_ copy: CopyOp, _ step: BuildStep, parent: BuildState,
                        inputs: [BuildState]) async throws -> ResolvedSources {
        let keyword = copy.keyword
        let environment = Self.environment(image: parent.container.env ?? [], args: step.args)
        let inline = try copy.inline.map { file in
            do { return try file.expanded(environment: environment) } catch {
                throw self.error(step, "\(keyword) <<\(file.name): \(error)")
            }
        }
        if copy.from != nil, !copy.gitSources.isEmpty { throw error(step, "ADD --from cannot take git sources") }
        if copy.checksum != nil, !copy.gitSources.isEmpty, !copy.urls.isEmpty {
            throw error(step, "ADD --checksum needs exactly one URL or git source")
        }
        let git = try await resolveGit(copy, step)
        var remote: RemoteSources?
        if !copy.urls.isEmpty {
            if copy.from != nil { throw error(step, "ADD --from cannot take URLs") }
            remote = try await fetch(copy.urls, step: step, checksum: copy.checksum)
        } else if copy.checksum != nil, copy.gitSources.isEmpty {
            throw error(step, copy.isAdd ? "ADD --checksum only applies to URL and git sources" : "COPY does not take --checksum")
        }
        do {
            let (origin, content) = try await resolveOrigin(copy, step, inputs: inputs)
            return ResolvedSources(origin: origin, content: content, remote: remote, git: git, inline: inline)
        } catch {
            remote?.remove()
            throw error
        }
    }

    /// Where the path sources are read, and the part of the key that stands for their content.
    private func resolveOrigin(_ copy: CopyOp, _ step: BuildStep,
                               inputs: [BuildState]) async throws -> (ResolvedSources.Origin, CopyOp.ContentKey) {
        switch copy.from {
        case .stage(let input):
            let source = inputs[input.inputPosition]
            return (.filesystem(source), .stage(source.cacheKey))
        case .image(let reference):
            let image: BaseImage
            do { image = try await images.resolve(reference, platform: options.platform) } catch {
                throw self.error(step, "\(copy.keyword) --from=\(reference): \(error)")
            }
            materials.add(.image(reference, platform: options.platform, manifest: image.manifestDigest))
            let layers = zip(image.manifest.layers, image.config.rootfs.diffIDs).map {
                LayerRecord(descriptor: $0, diffID: $1)
            }
            let state = BuildState(cacheKey: image.manifestDigest, layers: layers, config: image.config)
            return (.filesystem(state), .image(image.manifestDigest))
        case .context(let name):
            guard let tree = namedContexts[name] else { throw error(step, "build context \(name) was not given") }
            return try select(copy, step, in: tree)
        case nil:
            guard !copy.paths.isEmpty else { return (.nothing, .nothing) }
            return try select(copy, step, in: context)
        }
    }

    /// The path sources in a context directory and the checksum of what they select.
    private func select(_ copy: CopyOp, _ step: BuildStep,
                        in context: SourceTree) throws -> (ResolvedSources.Origin, CopyOp.ContentKey) {
        do {
            // A source that is a symlink is copied as what it points to, as BuildKit does.
            let selection = try CopySelection.select(copy.paths, in: context, excludes: copy.excludes,
                                                     parents: copy.parents, followRootSymlinks: true)
            return (.context(selection), .context(try selection.checksum(cache: checksums)))
        } catch {
            throw self.error(step, error.reported(as: copy.keyword).description)
        }
    }

    /// The http source: downloads `urls` into a new directory under the state directory, mode 0600 as docker
    /// gives them, mtime from Last-Modified, `--checksum` verified for a single URL.
    func fetch(_ urls: [String], step: BuildStep, checksum: String?) async throws -> RemoteSources {
        guard let fetcher else { throw error(step, "ADD \(urls[0]): fetching URLs is not available here") }
        if checksum != nil, urls.count != 1 { throw error(step, "ADD --checksum needs exactly one URL source") }
        let directory = state.layout.root + "/tmp/add-\(ProcessOwners.token)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var files: [CopyOp.Fetched] = []
        do {
            for text in urls {
                guard let url = URL(string: text) else { throw error(step, "ADD \(text): not a valid URL") }
                let partial = directory + "/.partial-\(files.count)"
                let fetched: FetchedFile
                do { fetched = try await fetcher.fetch(url, to: partial) } catch {
                    throw self.error(step, "ADD \(text): \(error)")
                }
                let name = fetched.name.isEmpty || fetched.name == "/" ? "index.html" : fetched.name
                guard !name.contains("/"), !files.contains(where: { $0.name == name }) else {
                    throw error(step, "ADD \(text): two URLs would both be named \(name)")
                }
                let digest = try Self.sha256(file: partial)
                if let checksum {
                    guard let wanted = try? Digest(parsing: checksum) else {
                        throw error(step, "ADD --checksum=\(checksum): expected sha256:<64 hex digits>")
                    }
                    guard wanted == digest else {
                        throw error(step, "ADD \(text): checksum mismatch: expected \(wanted), got \(digest)")
                    }
                }
                chmod(partial, 0o600)
                if let modified = fetched.modified {
                    try? FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: partial)
                }
                guard rename(partial, directory + "/" + name) == 0 else {
                    throw error(step, "ADD \(text): cannot store the download")
                }
                files.append(.init(url: text, name: name, digest: digest))
                materials.add(BuildMaterial(kind: .http, uri: Self.withoutCredentials(url), digest: [digest.algorithm.rawValue: digest.hex]))
            }
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        return RemoteSources(directory: directory, files: files)
    }

    /// A URL as provenance may show it: no user or password.
    static func withoutCredentials(_ url: URL) -> String {
        guard var components = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return url.absoluteString }
        components.user = nil
        components.password = nil
        return components.string ?? url.absoluteString
    }

    /// The git source: each address's ref resolved to a commit with `git ls-remote` (credentials from the
    /// `GIT_AUTH_TOKEN` / `GIT_AUTH_HEADER` secrets, ssh through the `--ssh` agent), `--checksum` checked
    /// against it.
    func resolveGit(_ copy: CopyOp, _ step: BuildStep) async throws -> [GitSource] {
        guard !copy.gitSources.isEmpty else { return [] }
        if copy.checksum != nil, copy.gitSources.count != 1 { throw error(step, "ADD --checksum needs exactly one git source") }
        let fetcher: GitFetcher
        do { fetcher = try GitFetcher() } catch { throw self.error(step, "ADD \(copy.gitSources[0]): \(error)") }
        var sources: [GitSource] = []
        for text in copy.gitSources {
            guard let address = GitAddress.parse(text) else {
                throw error(step, "ADD \(text): not a git address (expected https://host/repo.git#ref:dir, git@host:repo.git, ssh:// or git://)")
            }
            let credentials = GitCredentials.lookup(for: address, sshAgents: options.sshAgents) { id in
                options.secrets[id].flatMap { FileManager.default.contents(atPath: $0) }.map { String(decoding: $0, as: UTF8.self) }
            }
            let resolved: (commit: String, ref: String?)
            do { resolved = try await onOwnThread { try fetcher.resolve(address, credentials: credentials) } } catch {
                throw self.error(step, "ADD \(error)")
            }
            if let checksum = copy.checksum {
                let wanted = checksum.lowercased()
                guard wanted.count >= 7, wanted.allSatisfy(\.isHexDigit) else {
                    throw error(step, "ADD --checksum=\(checksum): expected a commit id for a git source")
                }
                guard resolved.commit.hasPrefix(wanted) else {
                    throw error(step, "ADD \(address.display): checksum mismatch: expected commit \(checksum), got \(resolved.commit)")
                }
            }
            sources.append(GitSource(address: address, commit: resolved.commit, ref: resolved.ref, credentials: credentials))
            materials.add(BuildMaterial(kind: .git, uri: address.withoutUser, digest: ["sha1": resolved.commit]))
        }
        return sources
    }

    /// Checks `source` out into a new directory under the state directory (removed by the caller).
    func checkout(_ source: GitSource, keepGitDir: Bool, step: BuildStep) async throws -> String {
        let directory = state.layout.root + "/tmp/git-\(ProcessOwners.token)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        do {
            let fetcher = try GitFetcher()
            try await onOwnThread {
                try fetcher.checkout(source.address, commit: source.commit, ref: source.ref, into: directory,
                                     keepGitDir: keepGitDir, credentials: source.credentials)
            }
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw self.error(step, "ADD \(error)")
        }
        return directory
    }

    static func sha256(file: String) throws -> Digest {
        guard let handle = FileHandle(forReadingAtPath: file) else { throw BuildError("cannot read \(file)") }
        defer { try? handle.close() }
        var hasher = DigestHasher()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(chunk) }
        return hasher.finalize()
    }
}
