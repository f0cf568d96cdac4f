import Foundation
import ImgContent
import ImgContext
import ImgDockerfile
import ImgFrontend
import ImgGraph
import ImgOCI
import ImgRuntime
import ImgSnapshot
import ImgTestSupport
import ImgWorker

/// A worker over a real state directory, snapshot store (native backend) and context directory, with fake
/// image resolution, fetching and progress: ops run in process, no binary and no registry.
final class WorkerHarness: Sendable {
    let directory: TemporaryDirectory
    let state: StateDirectory
    let snapshots: SnapshotStore
    let images: FakeImages
    let fetcher: FakeFetcher

    init(images: FakeImages = FakeImages(), fetcher: FakeFetcher = FakeFetcher([:])) throws {
        directory = try TemporaryDirectory("img-worker")
        directory.directory("context")
        state = try StateDirectory(root: directory["state"])
        snapshots = try SnapshotStore(root: state.layout.snapshotsDirectory, backend: .native)
        self.images = images
        self.fetcher = fetcher
    }

    var context: String { directory["context"] }

    func write(_ relative: String, _ text: String) throws { try directory.write("context/" + relative, text) }

    /// Plans `dockerfile`, solves its target with a fresh worker and returns the result and the progress seen.
    func build(_ dockerfile: String, entitlements: Set<Entitlement> = []) async throws -> (BuildState, RecordedProgress, BuildWorker) {
        let plan = try BuildPlanner.plan(dockerfile, options: BuildOptions())
        let definition = BuildDefinition(plan: plan)
        let progress = RecordedProgress()
        let worker = BuildWorker(
            state: state, snapshots: snapshots, executor: try RuncExecutor(stateDirectory: state.layout.root),
            context: try SourceTree.context(context, dockerfilePath: nil), checksums: nil, images: images,
            fetcher: fetcher, progress: progress,
            options: WorkerOptions(platform: .host, entitlements: entitlements))
        let result = try await state.content.withLease { _ in
            let solver = Solver<BuildStep, BuildState>(graph: definition.graph) { vertex, inputs in
                try await worker.run(vertex, inputs: inputs)
            }
            let result = try await solver.solve([definition.target])[0]
            try await worker.records.drain()
            return result
        }
        return (result, progress, worker)
    }

    /// `body` over the result's filesystem, mounted read-only for the call.
    func inspect<T>(_ result: BuildState, with worker: BuildWorker, _ body: (String) throws -> T) async throws -> T {
        try await state.content.withLease { _ in try await worker.withFilesystem(of: result) { try body($0) } }
    }
}
