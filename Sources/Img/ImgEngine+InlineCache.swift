import Foundation
import ImgContent
import ImgExport
import ImgOCI
import ImgWorker

extension BuildRun {
    /// `--cache-to type=inline`: for each platform's build, the inline cache its image's config carries,
    /// the records of the steps that make the image (mode=min); nil for each without `type=inline` or when
    /// no output writes an image. The workers' records are drained first, as a step that ran is recorded in
    /// the background. A document that cannot be made is an error unless `ignore-error=true`.
    func inlineCaches(_ builds: [PlatformBuild], results: [BuildState], outputs: [BuildOutput],
                      state: StateDirectory, progress: any BuildProgress) async throws -> [Data?] {
        let none = [Data?](repeating: nil, count: builds.count)
        guard let spec = command.cacheTo.first(where: { $0.location == .inline }) else { return none }
        guard outputs.contains(where: { [.image, .oci, .docker].contains($0.kind) }) else {
            engine.warn("warning: --cache-to \(spec.text): no image is written to carry it (use -t NAME or -o type=image|oci|docker)")
            return none
        }
        // A record that cannot be written fails the build as it would after the export, not the inline cache.
        for build in builds { try await build.worker.records.drain() }
        do {
            var documents: [Data?] = []
            for (build, result) in zip(builds, results) {
                let chain = Self.targetChain(build.definition)
                let steps = build.worker.produced.all.filter { chain.contains($0.vertex) }.map {
                    CachedStep(key: $0.key, parent: $0.parent, manifest: $0.manifest)
                }
                let records = try InlineCache.records(steps, image: result.config, content: state.content)
                progress.message("--cache-to \(spec.text): \(records.count) records in the image config"
                                 + (builds.count > 1 ? " (\(build.platform))" : ""))
                documents.append(records.isEmpty ? nil : try InlineCache.document(records))
            }
            return documents
        } catch where spec.ignoreError {
            engine.warn("warning: --cache-to \(spec.text): \(error) (ignored: ignore-error=true)")
            return none
        } catch {
            throw RequestError("--cache-to \(spec.text): \(error)")
        }
    }
}
