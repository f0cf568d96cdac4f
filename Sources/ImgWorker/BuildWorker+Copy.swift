import Foundation
import Glibc
import ImgContext
import ImgDockerfile
import ImgFrontend
import ImgGraph
import ImgOCI
import ImgSnapshot
import ImgSystem

extension BuildWorker {
    /// COPY and ADD: files from the context, another stage or an image (or heredocs) into the parent's
    /// filesystem. The cache key covers exactly the selected sources' content, not their mtimes.
    func copy(_ vertex: Int, _ step: BuildStep, _ copy: CopyCommand, isAdd: Bool, parent: BuildState,
              inputs: [BuildState]) async throws -> BuildState {
        let keyword = isAdd ? "ADD" : "COPY"
        let workdir = parent.container.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        let destination = Self.containerPath(copy.destination, workdir: workdir)
        var paths: [String] = []
        var heredocs: [Heredoc] = []
        for source in copy.sources {
            switch source {
            case .path(let path): paths.append(path)
            case .heredoc(var heredoc):
                // An unquoted delimiter means the body is expanded with the stage's variables, quotes kept.
                if heredoc.expand {
                    var lexer = ShellLexer()
                    lexer.keepQuotes = true
                    let variables = Self.environment(image: parent.container.env ?? [], args: step.args).map { item in
                        let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                        return (parts[0], parts.count == 2 ? parts[1] : "")
                    }
                    do { heredoc.content = try lexer.expandWord(heredoc.content, env: ShellEnvironment(variables)).value } catch {
                        throw self.error(step, "\(keyword) <<\(heredoc.name): \(error)")
                    }
                }
                heredocs.append(heredoc)
            }
        }
        // ADD of URLs: fetched into a private directory first; their content digest joins the key (so a
        // changed remote file is a miss), and they are copied like local files, named after the URL.
        var remote: RemoteSources?
        if isAdd {
            let urls = paths.filter { $0.hasPrefix("http://") || $0.hasPrefix("https://") }
            if let git = paths.first(where: { $0.hasPrefix("git@") || $0.hasSuffix(".git") || $0.contains(".git#") }) {
                throw error(step, "ADD \(git): git sources are not supported yet; clone in a RUN step")
            }
            if !urls.isEmpty {
                if copy.from != nil { throw error(step, "ADD --from cannot take URLs") }
                remote = try await fetch(urls, step: step, checksum: copy.checksum)
                paths.removeAll { urls.contains($0) }
            } else if copy.checksum != nil {
                throw error(step, "ADD --checksum only applies to URL sources")
            }
        } else if copy.checksum != nil {
            throw error(step, "COPY does not take --checksum")
        }
        defer { remote.map { try? FileManager.default.removeItem(atPath: $0.directory) } }
        // --link: the files go into an empty layer of their own, so their key leaves the parent out and a
        // changed base keeps them cached. `--chown` names are still looked up in the parent's /etc/passwd;
        // the ids found join the key instead.
        var chown = copy.chown
        if copy.link, let spec = chown, !spec.split(separator: ":").allSatisfy({ UInt32($0) != nil }) {
            do {
                let owner = try await withFilesystem(of: parent) { root in try FileOwner.resolve(spec, rootfs: root) }
                chown = "\(owner.uid):\(owner.gid)"
            } catch let failure as ContextError {
                throw self.error(step, failure.reported(as: keyword).description)
            }
        }
        let copyOptions = CopyOptions(chown: chown, chmod: copy.chmod, isAdd: isAdd, parents: copy.parents,
                                      link: copy.link)

        var key = CacheKeyBuilder(kind: keyword.lowercased())
        if copy.link {
            key.add("platform", options.platform.description)
        } else {
            key.add("parent", parent.cacheKey)
        }
        key.add("destination", destination)
        key.add("sources", paths)
        key.add("excludes", copy.excludes)
        key.add("chown", chown ?? "")
        key.add("chmod", copy.chmod ?? "")
        key.add("parents", copy.parents)
        key.add("link", copy.link)
        for heredoc in heredocs { key.add("heredoc", [heredoc.name, heredoc.content]) }
        if let remote { key.add("remote", remote.files.flatMap { [$0.url, $0.name, $0.digest.description] }) }

        // Where the files come from, and the part of the key that stands for their content.
        enum Origin { case nothing, context(CopySelection), stage(BuildState), image(BuildState) }
        let origin: Origin
        if let from = copy.from {
            if let input = step.stageInputs.first(where: { $0.name == from }) {
                let source = inputs[input.inputPosition]
                origin = .stage(source)
                key.add("from-stage", source.cacheKey)
            } else {
                let image: BaseImage
                do { image = try await images.resolve(from, platform: options.platform) } catch {
                    throw self.error(step, "\(keyword) --from=\(from): \(error)")
                }
                let layers = zip(image.manifest.layers, image.config.rootfs.diffIDs).map {
                    LayerRecord(descriptor: $0, diffID: $1)
                }
                origin = .image(BuildState(cacheKey: image.manifestDigest, layers: layers, config: image.config))
                key.add("from-image", image.manifestDigest)
            }
        } else if paths.isEmpty {
            origin = .nothing
        } else {
            let selection: CopySelection
            do {
                selection = try CopySelection.select(paths, in: context, excludes: copy.excludes, parents: copy.parents)
                key.add("checksum", try selection.checksum(cache: checksums))
            } catch {
                throw self.error(step, error.reported(as: keyword).description)
            }
            origin = .context(selection)
        }
        let written = copy.sources.map { source -> String in
            switch source {
            case .path(let path): path
            case .heredoc(let heredoc): "<<" + heredoc.name
            }
        }
        let createdBy = "\(keyword) \(written.joined(separator: " ")) \(copy.destination) # buildkit"

        let fill: (Workspace) async throws -> Bool = { workspace in
            do {
                switch origin {
                case .nothing:
                    break
                case .context(let selection):
                    try CopyOperation.copy(selection, into: workspace.rootfs, destination: destination, options: copyOptions)
                case .stage(let source), .image(let source):
                    try await withFilesystem(of: source) { root in
                        let selection = try CopySelection.select(
                            paths, in: .directory(root), excludes: copy.excludes, parents: copy.parents)
                        try CopyOperation.copy(selection, into: workspace.rootfs, destination: destination, options: copyOptions)
                    }
                }
                if let remote {
                    let selection = try CopySelection.select(remote.files.map(\.name), in: .directory(remote.directory))
                    try CopyOperation.copy(selection, into: workspace.rootfs, destination: destination, options: copyOptions)
                }
                for heredoc in heredocs {
                    try CopyOperation.writeHeredoc(name: heredoc.name, content: heredoc.content, into: workspace.rootfs,
                                                   destination: destination, options: copyOptions)
                }
            } catch let failure as ContextError {
                throw self.error(step, failure.reported(as: keyword).description)
            }
            return true
        }
        guard copy.link else {
            return try await throughCache(vertex, step, key: key, parent: parent) { result in
                if let layer = try await layer(on: parent, fill) { result.append(layer, createdBy: createdBy, created: now) }
            }
        }
        // The linked layer alone, made on nothing and cached by its own key; then merged onto the parent.
        let nothing = BuildState(cacheKey: key.finish(), layers: [], config: ImageConfig(platform: options.platform))
        let linked = try await throughCache(vertex, step, key: key, parent: nothing) { result in
            if let layer = try await layer(on: nothing, fill) { result.append(layer, createdBy: createdBy, created: now) }
        }
        var merged = parent
        var mergeKey = CacheKeyBuilder(kind: "merge")
        mergeKey.add("parent", parent.cacheKey)
        mergeKey.add("linked", linked.cacheKey)
        merged.cacheKey = mergeKey.finish()
        merged.cached = linked.cached
        let created = linked.config.history?.last?.created ?? now
        if let layer = linked.layers.last {
            merged.append(layer, createdBy: createdBy, created: created)
        } else {
            merged.appendEmpty(createdBy: createdBy, created: created)
        }
        return merged
    }

    /// URLs of one ADD, downloaded.
    struct RemoteSources {
        struct File {
            var url: String
            var name: String
            var digest: Digest
        }
        var directory: String
        var files: [File]
    }

    /// Downloads `urls` into a new directory under the state directory: mode 0600 as docker gives them,
    /// mtime from Last-Modified, `--checksum` verified for a single URL.
    func fetch(_ urls: [String], step: BuildStep, checksum: String?) async throws -> RemoteSources {
        guard let fetcher else { throw error(step, "ADD \(urls[0]): fetching URLs is not available here") }
        if checksum != nil, urls.count != 1 { throw error(step, "ADD --checksum needs exactly one URL source") }
        let directory = state.layout.root + "/tmp/add-\(ProcessOwners.token)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var files: [RemoteSources.File] = []
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
            }
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        return RemoteSources(directory: directory, files: files)
    }

    static func sha256(file: String) throws -> Digest {
        guard let handle = FileHandle(forReadingAtPath: file) else { throw BuildError("cannot read \(file)") }
        defer { try? handle.close() }
        var hasher = DigestHasher()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(chunk) }
        return hasher.finalize()
    }

    /// A destination as an absolute container path: relative ones are under WORKDIR; a trailing `/` (which
    /// says "a directory") is kept.
    static func containerPath(_ path: String, workdir: String) -> String {
        if path.hasPrefix("/") { return path }
        let base = workdir.hasSuffix("/") ? workdir : workdir + "/"
        if path == "." || path == "./" { return base }
        return base + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
    }

    /// WORKDIR: sets the config and creates the directory (a layer) when it does not exist yet.
    func workdir(_ vertex: Int, _ step: BuildStep, _ path: String, parent: BuildState) async throws -> BuildState {
        let previous = parent.container.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        let absolute = URL(filePath: Self.containerPath(path, workdir: previous)).standardized.path
        var key = CacheKeyBuilder(kind: "workdir")
        key.add("parent", parent.cacheKey)
        key.add("path", absolute)
        return try await throughCache(vertex, step, key: key, parent: parent) { result in
            result.container.workingDir = absolute
            let layer = try await layer(on: parent) { workspace in
                Self.makeDirectory(absolute, in: workspace.rootfs)
            }
            if let layer {
                result.append(layer, createdBy: "WORKDIR \(absolute)", created: now)
            } else {
                result.appendEmpty(createdBy: "WORKDIR \(absolute)", created: now)
            }
        }
    }
}
