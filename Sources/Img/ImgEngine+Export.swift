import Foundation
import ImgContent
import ImgExport
import ImgOCI
import ImgSBOM
import ImgWorker
import Synchronization

extension BuildRun {
    /// Writes the build result (one platform, or several in order) to every requested output.
    /// `inlineCaches`: each platform's `--cache-to type=inline` document, or nil.
    /// `provenance`: the statement attached to each platform's manifest, when the build asks for one.
    func export(_ results: [(BuildState, BuildWorker)], inlineCaches: [Data?], outputs: [BuildOutput],
                provenance: ProvenanceInputs?, sbom: SBOMInputs? = nil,
                scannedStages: [[(name: String, state: BuildState)]] = [], state: StateDirectory,
                work: WorkDirectory, blobs: (any BlobFetcher)?, progress: any BuildProgress) async throws -> BuildResult? {
        let names = outputs.flatMap(\.names).compactMap { try? Reference(parsing: $0).withDefaultTag }
        let images = zip(results, inlineCaches).enumerated().map { index, entry in
            let (result, inlineCache) = entry
            let (final, worker) = (finalized(result.0, worker: result.1), result.1)
            let stages = index < scannedStages.count ? scannedStages[index] : []
            return Self.exported(final, worker: worker, inlineCache: inlineCache, annotations: command.annotations,
                                 attestations: attestations(final, worker: worker, provenance: provenance, sbom: sbom,
                                                            stages: stages, names: names))
        }
        var context = ExportContext(state: state, work: work, report: { progress.message($0) }, debug: engine.debug,
                                    fetcher: blobs)
        let written = Mutex<(Descriptor, [Reference])?>(nil)
        context.annotations = command.annotations
        context.imageWritten = { root, names in written.withLock { if $0 == nil { $0 = (root, names) } } }
        for output in outputs {
            try await exporter(for: output, sourceDateEpoch: results[0].1.options.sourceDateEpoch).export(images, in: context)
        }
        guard let (root, names) = written.withLock({ $0 }) else { return nil }
        // One platform's config: the root's, or that of the only image an attested index lists (as buildx).
        var manifestDescriptor: Descriptor? = root.mediaType.isManifest ? root : nil
        if root.mediaType.isIndex, let data = try? state.content.data(for: root.digest),
           let index = try? JSONDecoder().decode(Index.self, from: data) {
            let images = index.manifests.filter { !Attestation.isAttestationManifest($0) }
            if images.count == 1 { manifestDescriptor = images[0] }
        }
        var config: Digest?
        if let manifestDescriptor, let data = try? state.content.data(for: manifestDescriptor.digest),
           let manifest = try? JSONDecoder().decode(Manifest.self, from: data) {
            config = manifest.config.digest
        }
        return BuildResult(descriptor: root, configDigest: config, names: names)
    }

    /// The exporter `output` asks for, with buildx's defaults: docker media types for the store and a docker
    /// archive, OCI ones for an OCI archive, unless `oci-mediatypes=` says otherwise.
    func exporter(for output: BuildOutput, sourceDateEpoch: Int64?) throws -> any Exporter {
        let recompression = output.forceCompression
            ? ExportedImage.Recompression(compression: output.compression ?? .gzip, level: output.compressionLevel) : nil
        switch output.kind {
        case .image:
            return ImageStoreExporter(
                names: try output.names.map { try Reference(parsing: $0).withDefaultTag },
                mediaTypes: output.ociMediaTypes == true ? .oci : .docker, recompression: recompression,
                registry: output.push ? RegistryExporter() : nil)
        case .oci, .docker:
            return ImageArchiveExporter(
                format: output.kind == .oci ? .oci : .docker,
                names: try (output.names + command.tags).map { try Reference(parsing: $0).withDefaultTag },
                destination: output.destination,
                mediaTypes: output.kind == .oci && output.ociMediaTypes != false ? .oci : .docker, recompression: recompression)
        case .tar:
            return RootfsTarExporter(destination: output.destination, sourceDateEpoch: sourceDateEpoch)
        case .local:
            return LocalDirectoryExporter(destination: output.destination!)
        }
    }

    /// One platform's result as the exporters take it.
    static func exported(_ final: BuildState, worker: BuildWorker, inlineCache: Data? = nil,
                         annotations: ImageAnnotations = ImageAnnotations(),
                         attestations: (@Sendable (Descriptor) async throws -> [AttestationStatement])? = nil) -> ExportedImage {
        let manifestAnnotations = annotations.values(.manifest, platform: final.config.platform)
        return ExportedImage(
            platform: final.config.platform,
            store: { types, recompression in
                var image = final
                if let recompression {
                    image = try await worker.recompressed(image, compression: recompression.compression, level: recompression.level)
                }
                return try await worker.storeImage(image, mediaTypes: types, inlineCache: inlineCache,
                                                   annotations: manifestAnnotations).manifest
            },
            withFilesystem: { body in try await worker.withFilesystem(of: final) { try await body($0) } },
            attestations: attestations)
    }

    /// The statements one platform's image gets: its provenance, when asked for; nil when there are none.
    func attestations(_ final: BuildState, worker: BuildWorker, provenance: ProvenanceInputs?, sbom: SBOMInputs?,
                      stages: [(name: String, state: BuildState)],
                      names: [Reference]) -> (@Sendable (Descriptor) async throws -> [AttestationStatement])? {
        guard provenance != nil || sbom != nil else { return nil }
        var provenance = provenance
        provenance?.sourceDateEpoch = worker.options.sourceDateEpoch
        let platform = final.config.platform
        let stages = stages.map { StageState(name: $0.name, state: $0.state) }
        return { [provenance] manifest in
            var statements: [AttestationStatement] = []
            if let provenance {
                statements.append(try provenance.statement(platform: platform, materials: worker.materials.all,
                                                           manifest: manifest, names: names))
            }
            if let sbom {
                let subjects = InTotoStatement<SPDXDocument>.subjects(of: manifest.digest, names: names, platform: platform)
                statements.append(try await sbom.statement(final, worker: worker, stage: nil, manifest: manifest, subjects: subjects))
                for stage in stages {
                    statements.append(try await sbom.statement(stage.state, worker: worker, stage: stage.name,
                                                               manifest: manifest, subjects: subjects))
                }
            }
            return statements
        }
    }

    /// A scanned stage's result, as a closure keeps it.
    struct StageState: Sendable {
        var name: String
        var state: BuildState
    }

    static let dockerArchiveHoldsOnePlatform = ImageArchiveExporter.dockerArchiveHoldsOnePlatform

    /// The result as exported: `created` from its last step (an unchanged rebuild is the same image) and the
    /// `--label`s.
    func finalized(_ result: BuildState, worker: BuildWorker) -> BuildState {
        var final = result
        final.config.created = final.config.history?.last?.created ?? worker.now
        if !command.labels.isEmpty {
            var labels = final.container.labels ?? [:]
            for label in command.labels {
                let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
                labels[parts[0]] = parts.count == 2 ? parts[1] : ""
            }
            final.container.labels = labels
        }
        return final
    }
}
