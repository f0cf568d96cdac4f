package import ImgContent
package import ImgContext
package import ImgFrontend
package import ImgGraph
import ImgOCI
package import ImgRuntime
package import ImgSnapshot
import Foundation

/// Runs the ops of a build: image sources, exec through the executor, file ops and merges on snapshots,
/// and config changes. Each step is looked up in the persistent cache by its key before it runs.
package struct BuildWorker: Sendable {
    package let state: StateDirectory
    package let snapshots: SnapshotStore
    package let executor: RuncExecutor
    package let context: SourceTree
    /// `--build-context` directories by name, each with its own `.dockerignore`.
    package let namedContexts: [String: SourceTree]
    package let checksums: ChecksumCache?
    package let images: any BaseImageResolver
    package let fetcher: (any RemoteFetcher)?
    package let progress: any BuildProgress
    package let options: WorkerOptions
    /// Cache records still being written; drain before the build's lease ends.
    package let records = BackgroundRecords()
    /// `--cache-from`: asked in order when the local cache misses.
    package let cacheSources: [any CacheSource]
    /// Every step result recorded or found in the cache, for `--cache-to`.
    package let produced = ProducedResults()
    /// What the build resolved from outside its context (provenance's materials).
    package let materials = BuildMaterials()
    /// Fetches the layers a lazily imported cache left in the registry, when a step needs their bytes.
    package let blobFetcher: (any BlobFetcher)?

    package init(state: StateDirectory, snapshots: SnapshotStore, executor: RuncExecutor, context: SourceTree,
                 checksums: ChecksumCache?, images: any BaseImageResolver, fetcher: (any RemoteFetcher)? = nil,
                 progress: any BuildProgress, options: WorkerOptions, cacheSources: [any CacheSource] = [],
                 blobFetcher: (any BlobFetcher)? = nil, namedContexts: [String: SourceTree] = [:]) {
        self.namedContexts = namedContexts
        self.cacheSources = cacheSources
        self.blobFetcher = blobFetcher
        self.fetcher = fetcher
        self.state = state
        self.snapshots = snapshots
        self.executor = executor
        self.context = context
        self.checksums = checksums
        self.images = images
        self.progress = progress
        self.options = options
    }

    /// The solver's runner: one vertex, given its inputs' results (input 0 is the step before it).
    package func run(_ vertex: Vertex<BuildStep>, inputs: [BuildState]) async throws -> BuildState {
        let step = vertex.operation
        switch step.op {
        case .source(let source):
            return try await from(vertex.id, step, source, inputs: inputs)
        case .exec(let exec):
            return try await run(vertex.id, step, exec, parent: inputs[0], inputs: inputs)
        case .file(.copy(let copy)):
            return try await self.copy(vertex.id, step, copy, parent: inputs[0], inputs: inputs)
        case .file(.makeWorkingDirectory(let path)):
            return try await workdir(vertex.id, step, path, parent: inputs[0])
        case .merge(let merge):
            return try await self.merge(vertex.id, step, merge, parent: inputs[0], inputs: inputs)
        case .config(let change):
            return try metadata(step, change, parent: inputs[0])
        }
    }

    /// `Dockerfile:12: message`.
    func error(_ step: BuildStep, _ message: String) -> BuildError {
        BuildError(file: options.dockerfileName, line: step.line, message)
    }

    /// The `created` time for history and config: SOURCE_DATE_EPOCH when set, else now.
    package var now: String {
        let seconds = options.sourceDateEpoch ?? Int64(Date().timeIntervalSince1970.rounded(.down))
        return RFC3339.string(secondsSince1970: seconds)
    }

    /// Runs `body` as a step shown in progress (started, then finished or failed).
    func shown<T>(_ vertex: Int, _ step: BuildStep, _ body: () async throws -> T) async throws -> T {
        progress.started(vertex, title: step.title)
        do {
            let result = try await body()
            progress.finished(vertex)
            return result
        } catch {
            progress.failed(vertex, "\(error)")
            throw error
        }
    }
}
