import Foundation
import ImgContext
import ImgDockerfile
import ImgFrontend
import ImgGraph
import ImgOCI

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
        if isAdd, let remote = paths.first(where: { $0.contains("://") || $0.hasPrefix("git@") }) {
            throw error(step, "ADD \(remote): remote sources (URLs, git) are not supported yet; download in a RUN step")
        }
        let copyOptions = CopyOptions(chown: copy.chown, chmod: copy.chmod, isAdd: isAdd, parents: copy.parents,
                                      link: copy.link)

        var key = CacheKeyBuilder(kind: keyword.lowercased())
        key.add("parent", parent.cacheKey)
        key.add("destination", destination)
        key.add("sources", paths)
        key.add("excludes", copy.excludes)
        key.add("chown", copy.chown ?? "")
        key.add("chmod", copy.chmod ?? "")
        key.add("parents", copy.parents)
        key.add("link", copy.link)
        for heredoc in heredocs { key.add("heredoc", [heredoc.name, heredoc.content]) }

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
        let cacheKey = key.finish()
        let createdBy = "\(keyword) \((paths + heredocs.map { "<<" + $0.name }).joined(separator: " ")) \(copy.destination) # buildkit"

        if let hit = try await cachedState(cacheKey) {
            rememberKey(step, key)
            progress.started(vertex, title: step.title)
            progress.cached(vertex)
            return hit
        }
        return try await shown(vertex, step) {
            explainMiss(vertex, step, key)
            rememberKey(step, key)
            var result = parent
            result.cacheKey = cacheKey
            result.cached = false
            let layer = try await layer(on: parent) { workspace in
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
                    for heredoc in heredocs {
                        try CopyOperation.writeHeredoc(name: heredoc.name, content: heredoc.content, into: workspace.rootfs,
                                                       destination: destination, options: copyOptions)
                    }
                } catch let failure as ContextError {
                    throw self.error(step, failure.reported(as: keyword).description)
                }
                return true
            }
            if let layer { result.append(layer, createdBy: createdBy, created: now) }
            try await remember(result)
            return result
        }
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
        let cacheKey = key.finish()
        if let hit = try await cachedState(cacheKey) {
            rememberKey(step, key)
            progress.started(vertex, title: step.title)
            progress.cached(vertex)
            return hit
        }
        return try await shown(vertex, step) {
            explainMiss(vertex, step, key)
            rememberKey(step, key)
            var result = parent
            result.cacheKey = cacheKey
            result.cached = false
            result.container.workingDir = absolute
            let layer = try await layer(on: parent) { workspace in
                Self.makeDirectory(absolute, in: workspace.rootfs)
            }
            if let layer {
                result.append(layer, createdBy: "WORKDIR \(absolute)", created: now)
            } else {
                result.appendEmpty(createdBy: "WORKDIR \(absolute)", created: now)
            }
            try await remember(result)
            return result
        }
    }
}
