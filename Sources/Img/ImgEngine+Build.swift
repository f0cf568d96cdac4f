import ArgumentParser
import Foundation
import Glibc
import ImgArchive
import ImgContent
import ImgContext
import ImgDockerfile
import ImgExport
import ImgFrontend
import ImgGraph
import ImgOCI
import ImgRegistry
import ImgRuntime
import ImgSnapshot
import ImgSystem
package import ImgWorker

extension ImgEngine {
    /// One build: plan the Dockerfile for each target platform, solve the graphs side by side, export the
    /// results to every output. Progress goes to `progress`; Ctrl-C and SIGTERM cancel it cleanly.
    @discardableResult
    package func build(_ request: BuildRequest, progress: any BuildProgress) async throws -> BuildResult? {
        do {
            return try await BuildRun(engine: self, request: request).run(progress: progress)
        } catch is CancellationError {
            throw RequestError("build cancelled")
        }
    }
}

/// One build's state while it runs.
struct BuildRun {
    let engine: ImgEngine
    let request: BuildRequest
    var command: BuildRequest { request }

    func debug(_ line: String) { engine.debug(line) }

    func run(progress: any BuildProgress) async throws -> BuildResult? {
        let started = ContinuousClock.now
        let outputs = try resolvedOutputs()
        let state = try engine.state()
        // `--cache-from type=registry`: one client for the build, asked whenever a step misses.
        let cacheClient = importsFromRegistry ? try engine.registryClient(insecureHosts: insecureCacheHosts) : nil
        // Layers a lazy cache import left in a registry (this build's or an earlier one's), fetched when needed.
        let blobs = engine.blobFetcher(state: state) { descriptor, location, bytes in
            progress.message("fetched layer \(descriptor.digest) (\(Self.mebibytes(bytes))) from \(location.registry)/\(location.repository)")
        }
        // FROM images: pulled ones are stored in the background while the build goes on (`settle`).
        let images = StoreImageResolver(state: state, alwaysPull: command.pull, debug: engine.debug)
        let result: BuildResult?
        do {
            result = try await run(progress: progress, outputs: outputs, state: state, images: images,
                                   cacheClient: cacheClient, blobs: blobs, started: started)
        } catch {
            await images.settleQuietly()
            try? await cacheClient?.shutdown()
            await blobs.shutdown()
            throw error
        }
        try? await cacheClient?.shutdown()
        await blobs.shutdown()
        return result
    }

    private func run(progress: any BuildProgress, outputs: [BuildOutput], state: StateDirectory,
                     images: StoreImageResolver, cacheClient: RegistryClient?, blobs: RegistryBlobFetcher,
                     started: ContinuousClock.Instant) async throws -> BuildResult? {
        // One lease over the whole build: what it stores (prepared cache records, layers, the image) stays
        // until the image or a cache record refers to it.
        try await state.content.withLease { _ in try await WorkDirectory.with(state, "build") { work in
            let secrets = try secretFiles(in: work)
            let sshAgents = try SSHAgents(command.ssh)
            defer { sshAgents.stop() }
            // The context: a directory, a git repository cloned into the work directory, or a tar on stdin
            // unpacked there.
            var contextDirectory = command.context
            var gitContext: GitAddress?
            var gitCommit: (id: String, time: Int64)?
            if let address = try Self.gitContext(command.context) {
                gitContext = address
                (contextDirectory, gitCommit) = try cloneContext(address, into: work.file("git-context"), secrets: secrets,
                                                                 sshAgents: sshAgents.sockets, progress: progress)
            } else if command.context == "-" {
                contextDirectory = work.file("context")
                try FileManager.default.createDirectory(atPath: contextDirectory, withIntermediateDirectories: false)
                let archive = work.file("context.tar")
                guard FileManager.default.createFile(atPath: archive, contents: FileHandle.standardInput.readDataToEndOfFile()) else {
                    throw RequestError("cannot read the context archive from stdin")
                }
                _ = try TreeArchive.extract(from: archive, into: contextDirectory)
            }
            let source: DockerfileSource
            let dockerfilePath: String?
            if let gitContext, command.dockerfile != "-" {
                // `-f` names a file in the repository's context directory, as buildx reads it for a git context.
                let name = command.dockerfile ?? "Dockerfile"
                dockerfilePath = contextDirectory + "/" + name
                guard let data = FileManager.default.contents(atPath: contextDirectory + "/" + name) else {
                    throw RequestError("failed to read Dockerfile: \(name) not found in \(gitContext.display)")
                }
                source = DockerfileSource(bytes: Array(data), displayName: name)
            } else {
                source = try DockerfileSource.load(file: command.dockerfile, context: contextDirectory)
                dockerfilePath = command.dockerfile == "-" ? nil : source.displayName
            }
            let context = try SourceTree.context(
                URL(filePath: contextDirectory).standardizedFileURL.path,
                dockerfilePath: dockerfilePath.map { URL(filePath: $0).standardizedFileURL.path })
            let epoch = try resolvedEpoch(tree: context, gitCommit: gitCommit, progress: progress)
            if epoch == nil, let output = outputs.first(where: \.rewriteTimestamp) {
                throw RequestError("-o type=\(output.kind.rawValue),rewrite-timestamp=true needs SOURCE_DATE_EPOCH: set it, or add --reproducible")
            }
            let provenance = try provenanceInputs(
                source: source, dockerfilePath: dockerfilePath, contextDirectory: contextDirectory,
                gitContext: gitContext.flatMap { address in gitCommit.map { (address, $0.id) } },
                outputs: outputs, started: Date())
            let sbom = command.attestations.wantsSBOM
            let sbomInputs = SBOMInputs(toolVersion: command.builder.version)
            let targets = try targetPlatforms()
            // The caches' manifests and configs are read while the plans resolve their base images and the
            // snapshotter starts: on a fresh runner these are round trips to registries, one after another.
            let platforms = try targets.map { try Platform(parsing: ($0 ?? BuildPlatform.host).description) }
            let loadingCacheSources = Task {
                let sources = await self.cacheSources(client: cacheClient, platforms: platforms)
                for source in sources { source.prepareFirst(into: state) }
                return sources
            }
            // A FROM whose manifest the cache's build saw finds its config there: no second round trip.
            if !command.cacheFrom.isEmpty {
                images.useConfigs { digest in
                    for source in await loadingCacheSources.value {
                        if let config = source.embeddedConfig(digest) { return config }
                    }
                    return nil
                }
            }
            // So do the snapshotter (a fresh state directory probes what the kernel mounts) and the context
            // checksum database (created on first use).
            let engine = self.engine
            async let openedSnapshots = onOwnThread { try engine.snapshots() }
            async let openedChecksums = onOwnThread { try engine.contextChecksums() }
            // One plan per target platform (TARGETPLATFORM and friends differ); a single --platform, or none,
            // is the plain build.
            var plans: [(platform: Platform, plan: BuildPlan)] = []
            for (index, target) in targets.enumerated() {
                let platform = try Platform(parsing: (target ?? BuildPlatform.host).description)
                let plan = try await withOnbuildTriggers(try makePlan(source, platform: target, epoch: epoch, warn: index == 0),
                                                         file: source.displayName, images: images, platform: platform)
                plans.append((platform, plan))
            }
            try checkRunFlags(plans[0].plan, platforms: plans.count)
            for stage in plans[0].plan.allStages where !stage.isReachable {
                debug("stage \(stage.displayName) is not needed for the target: skipped")
            }

            let snapshots = try await openedSnapshots
            let executor = try engine.executor(runtime: command.runtime)
            let checksums = try await openedChecksums
            let namedTrees = try namedContextTrees()
            let compression = outputs.compactMap(\.compression).first ?? .gzip
            let compressionLevel = outputs.compactMap(\.compressionLevel).first
            let entitlements = command.entitlements
            let cacheSources = await loadingCacheSources.value
            let builds = plans.enumerated().map { index, entry in
                PlatformBuild(
                    platform: entry.platform, definition: BuildDefinition(plan: entry.plan),
                    worker: BuildWorker(
                        state: state, snapshots: snapshots, executor: executor, context: context, checksums: checksums,
                        images: images, fetcher: HTTPFetcher(),
                        progress: plans.count == 1 ? progress
                            : PlatformProgress(progress, platform: entry.platform, index: index),
                        options: WorkerOptions(
                            platform: entry.platform, dockerfileName: source.displayName, noCache: command.noCache,
                            compression: compression, compressionLevel: compressionLevel,
                            sourceDateEpoch: epoch,
                            secrets: secrets, sshAgents: sshAgents.sockets,
                            entitlements: entitlements, network: command.network, extraHosts: command.extraHosts,
                            shmSize: command.shmSize, ulimits: command.ulimits,
                            noCacheStages: Set(command.noCacheStages)),
                        cacheSources: cacheSources, blobFetcher: blobs, namedContexts: namedTrees))
            }

            let result: BuildResult? = try await { () async throws -> BuildResult? in
                let solvers = builds.map { build in
                    // Each build is solved once, for its target: intermediate states can go as soon as read.
                    Solver<BuildStep, BuildState>(graph: build.definition.graph, keepsIntermediateOutputs: false) {
                        vertex, inputs in
                        try await build.worker.run(vertex, inputs: inputs)
                    }
                }
                // Ctrl-C / SIGTERM cancel the solve: the executor kills running containers, workspaces are
                // released, and the lease and work directory go as usual. Platforms are solved side by side.
                let solve = Task {
                    try await withTaskCancellationHandler {
                        try await withThrowingTaskGroup(of: (Int, [BuildState]).self) { group in
                            for (index, build) in builds.enumerated() {
                                let vertices = [build.definition.target] + build.scannedStages(sbom: sbom).map(\.vertex)
                                group.addTask { (index, try await solvers[index].solve(vertices)) }
                            }
                            var results = [[BuildState]?](repeating: nil, count: builds.count)
                            for try await (index, result) in group { results[index] = result }
                            return results.map { $0! }
                        }
                    } onCancel: {
                        Task { for solver in solvers { await solver.cancelAll() } }
                    }
                }
                let signals = InterruptSignals { _ in solve.cancel() }
                let result: BuildResult?
                do {
                    let solved = try await solve.value
                    // The pulled base images are stored and named before anything is exported.
                    try await images.settle()
                    let results = solved.map { $0[0] }
                    // Each platform's scanned stages, by name (`--sbom` with BUILDKIT_SBOM_SCAN_STAGE).
                    let stages = zip(builds, solved).map { build, states in
                        zip(build.scannedStages(sbom: sbom).map(\.name), states.dropFirst()).map { (name: $0, state: $1) }
                    }
                    withExtendedLifetime(signals) {}
                    let inlineCaches = try await inlineCaches(builds, results: results, outputs: outputs, state: state,
                                                          progress: progress)
                    result = try await export(Array(zip(results, builds.map(\.worker))), inlineCaches: inlineCaches,
                                              outputs: outputs, provenance: provenance, sbom: sbom ? sbomInputs : nil,
                                              scannedStages: stages, state: state, work: work,
                                              blobs: blobs, progress: progress)
                } catch {
                    // The steps that did finish keep their cache records, as before; the build's error wins.
                    for build in builds { try? await build.worker.records.drain() }
                    for source in cacheSources { await source.settle() }
                    throw error
                }
                for build in builds { try await build.worker.records.drain() }
                for source in cacheSources { await source.settle() }
                reportImports(cacheSources, fetched: blobs.fetched, progress: progress)
                try await exportCache(builds, state: state, work: work, blobs: blobs, progress: progress)
                return result
            }()
            progress.message("Built in \((ContinuousClock.now - started).fixed(1))s")
            return result
        } }
    }

    /// `--no-cache-filter` names stages of the Dockerfile; index annotations need an index (several
    /// platforms: a single-platform image is its manifest alone, as BuildKit refuses them there too).
    private func checkRunFlags(_ plan: BuildPlan, platforms: Int) throws {
        let names = plan.allStages.compactMap(\.name)
        for name in command.noCacheStages where !names.contains(name) {
            let known = names.isEmpty ? "the Dockerfile names no stage" : "stages: " + names.joined(separator: ", ")
            throw RequestError("--no-cache-filter \(name): no such stage (\(known))")
        }
        if platforms == 1, let entry = command.annotations.entries.first(where: { $0.level == .index || $0.level == .indexDescriptor }) {
            throw RequestError("--annotation \(entry.level.rawValue):\(entry.key): a single-platform image has no index (build several platforms, or use manifest:)")
        }
    }

    /// The context as a git address (`https://host/repo.git#ref:dir`, `git@host:repo.git`, `ssh://`, `git://`),
    /// or nil for a directory or `-`. Another http(s) URL is refused: only git remotes are fetched.
    static func gitContext(_ context: String) throws -> GitAddress? {
        guard context.contains("://") || context.hasPrefix("git@") else { return nil }
        if FileManager.default.fileExists(atPath: context) { return nil }
        guard let address = GitAddress.parse(context),
              address.transport != .http || address.remote.hasSuffix(".git") || context.contains("#")
        else {
            throw RequestError("unable to prepare context: \(context) is not a git repository URL (remote contexts other than git are not supported)")
        }
        return address
    }

    /// Clones the git context (its ref, or the remote HEAD) into `directory` without `.git`, as BuildKit
    /// does; returns the directory the build uses (the fragment's subdirectory, when given).
    private func cloneContext(_ address: GitAddress, into directory: String, secrets: [String: String],
                              sshAgents: [String: String], progress: any BuildProgress) throws
        -> (String, (id: String, time: Int64)) {
        let credentials = GitCredentials.lookup(for: address, sshAgents: sshAgents) { id in
            secrets[id].flatMap { FileManager.default.contents(atPath: $0) }.map { String(decoding: $0, as: UTF8.self) }
        }
        do {
            let fetcher = try GitFetcher()
            let (commit, ref) = try fetcher.resolve(address, credentials: credentials)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            let time = try fetcher.checkout(address, commit: commit, ref: ref, into: directory, keepGitDir: false,
                                            credentials: credentials)
            progress.message("git context \(address.display) at \(commit)")
            return (try GitFetcher.contextRoot(address, checkout: directory), (commit, time))
        } catch let error as GitError {
            throw RequestError("unable to prepare context: \(error)")
        }
    }

    /// `--platform a,b`: each target platform once, in the order given; `[nil]` (the host's) without it.
    private func targetPlatforms() throws -> [BuildPlatform?] {
        guard let text = command.platform else { return [nil] }
        var platforms: [BuildPlatform] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = item.trimmingCharacters(in: .whitespaces)
            guard let parsed = BuildPlatform(parsing: name) else {
                throw RequestError("invalid --platform \"\(name)\": expected os/arch[/variant]")
            }
            if !platforms.contains(parsed) { platforms.append(parsed) }
        }
        return platforms
    }

    /// The plan for the chosen target, build args and `platform` (nil: the host's). The epoch is the build arg
    /// SOURCE_DATE_EPOCH, as BuildKit passes it (a stage reads it with `ARG SOURCE_DATE_EPOCH`).
    private func makePlan(_ source: DockerfileSource, platform targetPlatform: BuildPlatform?, epoch: Int64?,
                          warn: Bool) throws -> BuildPlan {
        var args = try BuildArguments.parse(command.buildArgs)
        if let epoch { args["SOURCE_DATE_EPOCH"] = String(epoch) }
        let plan = try BuildPlanner.plan(
            String(decoding: source.bytes, as: UTF8.self), file: source.displayName,
            options: BuildOptions(target: command.target, buildArgs: args, targetPlatform: targetPlatform,
                                  namedContexts: try namedContexts()))
        let unused = plan.unusedBuildArgs.filter { $0 != "SOURCE_DATE_EPOCH" }
        if warn, !unused.isEmpty {
            engine.warn("warning: build-args [\(unused.joined(separator: ", "))] were not consumed")
        }
        return plan
    }

    /// ONBUILD: the triggers a base image carries run right after the FROM that names it, in the child's
    /// build (as docker does); they point at the FROM line in messages. The base is resolved (pulled if
    /// needed) here, once; the worker gets the same resolver and finds it again without a second pull.
    private func withOnbuildTriggers(_ plan: BuildPlan, file: String, images: StoreImageResolver, platform: Platform) async throws -> BuildPlan {
        var plan = plan
        for (position, stage) in plan.stages.enumerated() {
            guard case .image(let name) = stage.base else { continue }
            let stagePlatform = try stage.platform.map { try Platform(parsing: $0.description) } ?? platform
            let image: BaseImage
            do { image = try await images.resolve(name, platform: stagePlatform) } catch {
                throw RequestError("\(file):\(stage.from.startLine): FROM \(name): \(error)")
            }
            guard let triggers = image.config.config?.onBuild, !triggers.isEmpty else { continue }
            let label = "\(file):\(stage.from.startLine) (ONBUILD of \(name))"
            let parsed = try DockerfileParser.parse(triggers.joined(separator: "\n") + "\n", file: label)
            var added = try Instruction.all(in: parsed, file: label)
            for index in added.indices {
                added[index].startLine = stage.from.startLine
                added[index].endLine = stage.from.endLine
            }
            plan.stages[position].instructions = added + stage.instructions
            if plan.target.index == stage.index { plan.target = plan.stages[position] }
            debug("\(name): running its \(added.count) ONBUILD trigger(s) after FROM")
        }
        return plan
    }

    /// `--build-context` names and what each stands for (a name given twice: the last one, as buildx).
    private func namedContexts() throws -> [String: NamedContext] {
        var contexts: [String: NamedContext] = [:]
        for spec in command.buildContexts { contexts[spec.name] = spec.context }
        return contexts
    }

    /// `--build-context` directories as sources, each with its own `.dockerignore` (as BuildKit applies
    /// the ignore file of a named local context).
    private func namedContextTrees() throws -> [String: SourceTree] {
        var trees: [String: SourceTree] = [:]
        for spec in command.buildContexts {
            // A later value for the same name wins, also over an earlier directory.
            guard let directory = spec.directory else {
                trees[spec.name] = nil
                continue
            }
            do { trees[spec.name] = try SourceTree.context(directory, dockerfilePath: nil) } catch {
                throw RequestError("--build-context \(spec.name)=\(directory): \(error)")
            }
        }
        return trees
    }

    /// `-o` values, plus `type=image` for `-t` names when no image output was asked for.
    private func resolvedOutputs() throws -> [BuildOutput] {
        var outputs = command.outputs
        if !command.tags.isEmpty {
            if let index = outputs.firstIndex(where: { $0.kind == .image }) {
                outputs[index].names += command.tags
            } else {
                var image = BuildOutput(kind: .image)
                image.names = command.tags
                outputs.append(image)
            }
        }
        if command.push {
            guard let index = outputs.firstIndex(where: { $0.kind == .image }) else {
                throw RequestError("--push needs a name to push to: add -t NAME")
            }
            outputs[index].push = true
        }
        for output in outputs {
            for name in output.names { _ = try Reference(parsing: name) }
            if output.kind == .image, output.names.isEmpty {
                throw RequestError("type=image needs a name: use -t NAME or name=NAME")
            }
            if output.destination == nil, output.kind != .image, output.kind != .local, isatty(1) != 0 {
                throw RequestError("cowardly refusing to write a \(output.kind.rawValue) archive to a terminal: add dest=FILE or redirect stdout")
            }
        }
        if try targetPlatforms().count > 1, outputs.contains(where: { $0.kind == .docker }) {
            throw RequestError(Self.dockerArchiveHoldsOnePlatform)
        }
        if outputs.isEmpty {
            engine.warn("warning: no output specified: the result is only kept in the build cache (use -t NAME or -o)")
        }
        return outputs
    }

    /// `--secret id=x,src=FILE|env=VAR` → id → file. Env secrets are written to a private file in the work
    /// directory (removed with it) so they reach the container the same way.
    private func secretFiles(in work: WorkDirectory) throws -> [String: String] {
        var files: [String: String] = [:]
        for spec in command.secrets {
            var id: String?
            var source: String?
            var env: String?
            for field in spec.split(separator: ",") {
                let parts = field.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw RequestError("invalid --secret \"\(spec)\": expected id=ID,src=FILE or id=ID,env=VAR") }
                switch parts[0] {
                case "id": id = parts[1]
                case "src", "source": source = parts[1]
                case "env": env = parts[1]
                case "type": guard parts[1] == "file" || parts[1] == "env" else { throw RequestError("invalid --secret \"\(spec)\": type must be file or env") }
                default: throw RequestError("invalid --secret \"\(spec)\": unknown key \(parts[0])")
                }
            }
            guard let id else { throw RequestError("invalid --secret \"\(spec)\": missing id=") }
            if let source {
                guard FileManager.default.isReadableFile(atPath: source) else { throw RequestError("--secret \(id): cannot read \(source)") }
                files[id] = URL(filePath: source).standardizedFileURL.path
            } else {
                let name = env ?? id
                guard let value = ProcessInfo.processInfo.environment[name] else {
                    throw RequestError("--secret \(id): environment variable \(name) is not set")
                }
                let path = work.file("secret-" + Digest.sha256(of: Array(id.utf8)).short)
                guard FileManager.default.createFile(atPath: path, contents: Data(value.utf8), attributes: [.posixPermissions: 0o400]) else {
                    throw RequestError("--secret \(id): cannot write a temporary file")
                }
                files[id] = path
            }
        }
        return files
    }
}

/// One target platform's graph and the worker that runs it.
struct PlatformBuild: Sendable {
    let platform: Platform
    let definition: BuildDefinition
    let worker: BuildWorker

    /// `--sbom`: the stages besides the target that are scanned too (name, final vertex).
    func scannedStages(sbom: Bool) -> [(name: String, vertex: Int)] {
        guard sbom, let target = definition.plan.stages.first(where: { definition.stageResults[$0.index] == definition.target })
        else { return [] }
        return SBOMInputs.scannedStages(definition.plan, target: target.index).compactMap { stage in
            definition.stageResults[stage.index].map { (stage.displayName, $0) }
        }
    }
}
