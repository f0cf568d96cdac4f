import Foundation
import ImgContent
import ImgExport
import ImgFrontend
import ImgOCI
import ImgWorker

extension BuildRun {
    /// `--cache-from`: each cache that can be read, in order; one that cannot is one warning line and is
    /// left out. None with `--no-cache`.
    func cacheSources() -> [any CacheSource] {
        if command.noCache { return [] }
        return command.cacheFrom.compactMap { spec -> (any CacheSource)? in
            let source = LocalCacheImporter.open(directory: spec.source, tag: spec.tag,
                                                 label: "--cache-from \(spec.text)", warn: engine.warn)
            if let source { debug("--cache-from \(spec.text): \(source.count) records") }
            return source
        }
    }

    /// `--cache-to`: the steps of every platform's build (mode=max), or of the chains that make each final
    /// image (mode=min), written to each destination. Call once the workers' records are drained. A failed
    /// export is an error unless `ignore-error=true`.
    func exportCache(_ builds: [PlatformBuild], state: StateDirectory, work: WorkDirectory,
                     progress: any BuildProgress) async throws {
        guard !command.cacheTo.isEmpty else { return }
        let context = ExportContext(state: state, work: work, report: { progress.message($0) }, debug: engine.debug)
        for spec in command.cacheTo {
            var steps: [CachedStep] = []
            for build in builds {
                let produced = build.worker.produced.all
                let chain = spec.mode == .min ? Self.targetChain(build.definition) : nil
                for result in produced where chain?.contains(result.vertex) ?? true {
                    steps.append(CachedStep(key: result.key, parent: result.parent, manifest: result.manifest))
                }
            }
            do {
                try await LocalCacheExporter(destination: spec.destination, tag: spec.tag).export(steps, in: context)
            } catch where spec.ignoreError {
                engine.warn("warning: --cache-to \(spec.text): \(error) (ignored: ignore-error=true)")
            } catch {
                throw RequestError("--cache-to \(spec.text): \(error)")
            }
        }
    }

    /// The vertices whose results make the target's image: the target and, through each step's first input
    /// (the step before it, or the stage a FROM names), every step below it.
    static func targetChain(_ definition: BuildDefinition) -> Set<Int> {
        var chain: Set<Int> = []
        var next: Int? = definition.target
        while let id = next, chain.insert(id).inserted {
            next = definition.graph.vertices[id].inputs.first
        }
        return chain
    }
}
