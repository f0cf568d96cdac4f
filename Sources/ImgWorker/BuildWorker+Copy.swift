import Foundation
import Glibc
import ImgContext
import ImgFrontend
import ImgGraph
import ImgOCI
import ImgSnapshot
import ImgSystem

/// The file op: a copy's resolved sources written into a filesystem, and WORKDIR's directory.
extension BuildWorker {
    /// COPY and ADD without `--link`: a layer on the parent.
    func copy(_ vertex: Int, _ step: BuildStep, _ copy: CopyOp, parent: BuildState,
              inputs: [BuildState]) async throws -> BuildState {
        let prepared = try await prepareCopy(copy, step, parent: parent, inputs: inputs)
        defer { prepared.sources.removeDownloads() }
        return try await throughCache(vertex, step, key: prepared.key, parent: parent) { result in
            if let layer = try await layer(on: parent, prepared.write) {
                result.append(layer, createdBy: copy.createdBy, created: now)
            }
        }
    }

    /// The merge op (COPY --link): the copy alone, made on nothing and cached by its own key, then merged
    /// onto the parent as one more layer.
    func merge(_ vertex: Int, _ step: BuildStep, _ merge: MergeOp, parent: BuildState,
               inputs: [BuildState]) async throws -> BuildState {
        let copy = merge.copy
        let prepared = try await prepareCopy(copy, step, parent: parent, inputs: inputs)
        defer { prepared.sources.removeDownloads() }
        let nothing = BuildState(cacheKey: prepared.key.finish(), layers: [], config: ImageConfig(platform: options.platform))
        let linked = try await throughCache(vertex, step, key: prepared.key, parent: nothing) { result in
            if let layer = try await layer(on: nothing, prepared.write) {
                result.append(layer, createdBy: copy.createdBy, created: now)
            }
        }
        var merged = parent
        merged.cacheKey = MergeOp.cacheKey(parent: parent.cacheKey, linked: linked.cacheKey).finish()
        merged.cached = linked.cached
        let created = linked.config.history?.last?.created ?? now
        if let layer = linked.layers.last {
            merged.append(layer, createdBy: copy.createdBy, created: created)
        } else {
            merged.appendEmpty(createdBy: copy.createdBy, created: created)
        }
        return merged
    }

    /// A copy ready to run: its key and the writer of its files.
    struct PreparedCopy {
        var key: CacheKeyBuilder
        var sources: ResolvedSources
        var write: (Workspace) async throws -> Bool
    }

    /// Resolves the sources, keys the copy, and returns the writer that puts the files into a workspace.
    func prepareCopy(_ copy: CopyOp, _ step: BuildStep, parent: BuildState,
                     inputs: [BuildState]) async throws -> PreparedCopy {
        let workdir = parent.container.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        let destination = Self.containerPath(copy.destination, workdir: workdir)
        let sources = try await resolveSources(copy, step, parent: parent, inputs: inputs)
        // --link: the files go into an empty layer of their own, so their key leaves the parent out and a
        // changed base keeps them cached. `--chown` names are still looked up in the parent's /etc/passwd;
        // the ids found join the key instead.
        var chown = copy.chown
        do {
            if copy.link, let spec = chown, !spec.split(separator: ":").allSatisfy({ UInt32($0) != nil }) {
                do {
                    let owner = try await withFilesystem(of: parent) { root in try FileOwner.resolve(spec, rootfs: root) }
                    chown = "\(owner.uid):\(owner.gid)"
                } catch let failure as ContextError {
                    throw self.error(step, failure.reported(as: copy.keyword).description)
                }
            }
        } catch {
            sources.removeDownloads()
            throw error
        }
        let key = copy.cacheKey(.init(
            parent: parent.cacheKey, platform: options.platform, destination: destination, chown: chown,
            inline: sources.inline, fetched: sources.remote?.files, git: sources.git.map(\.keyEntry),
            content: sources.content))
        let copyOptions = CopyOptions(chown: chown, chmod: copy.chmod, isAdd: copy.isAdd, parents: copy.parents,
                                      link: copy.link)
        let write: (Workspace) async throws -> Bool = { workspace in
            do {
                try await writeFiles(copy, sources, step, into: workspace.rootfs, destination: destination,
                                     options: copyOptions)
            } catch let failure as ContextError {
                throw self.error(step, failure.reported(as: copy.keyword).description)
            }
            return true
        }
        return PreparedCopy(key: key, sources: sources, write: write)
    }

    /// Writes the resolved sources under `destination` in `rootfs`: path sources, then downloads, then
    /// inline files.
    private func writeFiles(_ copy: CopyOp, _ sources: ResolvedSources, _ step: BuildStep, into rootfs: String,
                            destination: String, options copyOptions: CopyOptions) async throws {
        switch sources.origin {
        case .nothing:
            break
        case .context(let selection):
            try CopyOperation.copy(selection, into: rootfs, destination: destination, options: copyOptions)
        case .filesystem(let source):
            try await withFilesystem(of: source) { root in
                // A source that is a symlink is copied as what it points to, as BuildKit does.
                let selection = try CopySelection.select(
                    copy.paths, in: .directory(root), excludes: copy.excludes, parents: copy.parents,
                    followRootSymlinks: true)
                try CopyOperation.copy(selection, into: rootfs, destination: destination, options: copyOptions)
            }
        }
        if let remote = sources.remote {
            let selection = try CopySelection.select(remote.files.map(\.name), in: .directory(remote.directory))
            try CopyOperation.copy(selection, into: rootfs, destination: destination, options: copyOptions)
        }
        for git in sources.git {
            let checkout = try await checkout(git, keepGitDir: copy.keepGitDir, step: step)
            defer { try? FileManager.default.removeItem(atPath: checkout) }
            let root: String
            do { root = try GitFetcher.contextRoot(git.address, checkout: checkout) } catch {
                throw self.error(step, "ADD \(error)")
            }
            // Like a context directory (owners 0:0 unless --chown), but a tar file in the repository is
            // copied, not extracted: BuildKit copies the git snapshot as it is.
            var gitOptions = copyOptions
            gitOptions.isAdd = false
            let selection = try CopySelection.select(["."], in: SourceTree(root: root, ignore: nil, keepsOwnership: false),
                                                     excludes: copy.excludes)
            try CopyOperation.copy(selection, into: rootfs, destination: destination, options: gitOptions)
        }
        for file in sources.inline {
            try CopyOperation.writeHeredoc(name: file.name, content: file.content, into: rootfs,
                                           destination: destination, options: copyOptions)
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

    /// WORKDIR: sets the config and creates the directory (a layer) when it does not exist yet, owned by
    /// the stage's USER as BuildKit's mkdir makes it.
    func workdir(_ vertex: Int, _ step: BuildStep, _ path: String, parent: BuildState) async throws -> BuildState {
        let previous = parent.container.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        let absolute = URL(filePath: Self.containerPath(path, workdir: previous)).standardized.path
        // BuildKit keeps an absolute path as written (`/tmp/` stays `/tmp/` in the config and the history)
        // and cleans a relative one joined to the previous directory.
        let configured = path.hasPrefix("/") ? path : absolute
        let user = parent.container.user.flatMap { $0.isEmpty ? nil : $0 }
        var key = FileOp.workingDirectoryKey(parent: parent.cacheKey, path: configured)
        key.add("user", user ?? "-")
        return try await throughCache(vertex, step, key: key, parent: parent) { result in
            result.container.workingDir = configured
            let layer = try await layer(on: parent) { workspace in
                let owner = try user.map { spec in
                    do { return try Self.workdirOwner(spec, rootfs: workspace.rootfs) } catch {
                        throw self.error(step, "WORKDIR \(configured): \(error)")
                    }
                }
                return Self.makeWorkingDirectory(absolute, in: workspace.rootfs, owner: owner)
            }
            if let layer {
                result.append(layer, createdBy: "WORKDIR \(configured)", created: now)
            } else {
                result.appendEmpty(createdBy: "WORKDIR \(configured)", created: now)
            }
        }
    }

    /// The owner BuildKit gives a directory it makes for `USER spec`: a number alone is both uid and gid, a
    /// name takes its passwd entry's ids, a group after `:` its own.
    static func workdirOwner(_ spec: String, rootfs: String) throws -> (uid: UInt32, gid: UInt32) {
        let user = try ContainerUser.resolve(spec, rootfs: rootfs)
        if !spec.contains(":"), let number = UInt32(spec) { return (number, number) }
        return (user.uid, user.gid)
    }

    /// Makes the missing directories of `path` (mode 0755), each owned by `owner` when given; what exists
    /// is left as it is. Resolved inside `rootfs` as `RootedDirectory` does. False when nothing was missing.
    static func makeWorkingDirectory(_ path: String, in rootfs: String, owner: (uid: UInt32, gid: UInt32)?) -> Bool {
        guard let components = RootedDirectory.components(of: path), !components.isEmpty,
              let root = try? RootedDirectory(path: rootfs) else { return false }
        if (try? root.openDirectory(components)) != nil { return false }
        for end in 1...components.count {
            let prefix = Array(components[..<end])
            if (try? root.openDirectory(prefix)) != nil { continue }
            guard let (parent, name) = try? root.openParent(prefix), mkdirat(parent.fd, name, 0o755) == 0 else {
                // Something in the way (a dangling link, a race): the plain walk makes what it can.
                return (try? root.openDirectory(components, createMode: 0o755)) != nil
            }
            if let owner { _ = fchownat(parent.fd, name, owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) }
        }
        return true
    }
}
