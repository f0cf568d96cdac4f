import Foundation
import ImgContent
import ImgExport
import ImgFrontend
import ImgOCI
import ImgRegistry
import ImgWorker

extension BuildRun {
    /// Whether a `--cache-from` reads a registry (the build then keeps a registry client for it).
    var importsFromRegistry: Bool {
        !command.noCache && command.cacheFrom.contains { if case .registry = $0.location { true } else { false } }
    }

    /// The hosts `--cache-from ...,registry.insecure=true` names.
    var insecureCacheHosts: [String] {
        command.cacheFrom.filter(\.insecure).compactMap(\.location.registryHost)
    }

    /// `--cache-from`: each cache that can be read, in order; one that cannot is one warning line and is
    /// left out. None with `--no-cache`. Registry caches are read with `client`; a registry reference that
    /// names an image gives the inline cache of each of the build's `platforms`.
    func cacheSources(client: RegistryClient?, platforms: [Platform]) async -> [CacheImporter] {
        if command.noCache { return [] }
        var sources: [CacheImporter] = []
        for spec in command.cacheFrom {
            let label = "--cache-from \(spec.text)"
            let source: CacheImporter?
            switch spec.location {
            case .directory(let directory, let tag):
                source = CacheImporter.local(directory: directory, tag: tag, label: label, warn: engine.warn)
            case .registry(let text):
                guard let client, let reference = try? Reference(parsing: text).withDefaultTag else { continue }
                source = await CacheImporter.registryOrInline(reference, platforms: platforms, client: client,
                                                              insecure: spec.insecure, label: label, warn: engine.warn)
            case .inline: continue
            }
            if let source {
                debug("\(label): \(source.count) records")
                sources.append(source)
            }
        }
        return sources
    }

    /// One progress line per `--cache-from` the build took steps from: how many, what it copied in, and the
    /// layers it left in the registry; then what the build fetched of such layers because it needed them.
    func reportImports(_ sources: [CacheImporter], fetched: RegistryBlobFetcher.Fetched, progress: any BuildProgress) {
        for source in sources {
            let taken = source.taken
            guard taken.records > 0 else { continue }
            var line = "\(source.label): \(taken.records) cached steps, \(taken.blobs) blobs (\(Self.mebibytes(taken.bytes))) copied in"
            if !taken.left.isEmpty {
                line += ", \(taken.left.count) layers (\(Self.mebibytes(taken.leftBytes))) left in the registry"
            }
            progress.message(line)
        }
        if fetched.blobs > 0 {
            progress.message("fetched \(fetched.blobs) layers (\(Self.mebibytes(fetched.bytes))) the build needed from registries")
        }
    }

    static func mebibytes(_ bytes: Int64) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

    /// `--cache-to`: the steps of every platform's build (mode=max), or of the chains that make each final
    /// image (mode=min), written to each destination. Call once the workers' records are drained. A failed
    /// export is an error unless `ignore-error=true`.
    func exportCache(_ builds: [PlatformBuild], state: StateDirectory, work: WorkDirectory, blobs: (any BlobFetcher)?,
                     progress: any BuildProgress) async throws {
        guard !command.cacheTo.isEmpty else { return }
        let context = ExportContext(state: state, work: work, report: { progress.message($0) }, debug: engine.debug,
                                    fetcher: blobs)
        for spec in command.cacheTo where spec.location != .inline {
            var steps: [CachedStep] = []
            var mountIDs: Set<String> = []
            for build in builds {
                let chain = spec.mode == .min ? Self.targetChain(build.definition) : nil
                for result in build.worker.produced.all where chain?.contains(result.vertex) ?? true {
                    steps.append(CachedStep(key: result.key, parent: result.parent, manifest: result.manifest))
                }
                if spec.cacheMounts {
                    mountIDs.formUnion(BuildWorker.cacheMountIDs(
                        build.definition, vertices: chain ?? Set(build.worker.produced.all.map(\.vertex))))
                }
            }
            do {
                let destination: CacheExporter.Destination = switch spec.location {
                case .directory(let directory, let tag): .directory(directory, tag: tag)
                case .inline: preconditionFailure("type=inline is written with the image")
                case .registry(let text):
                    .registry(try Reference(parsing: text).withDefaultTag, RegistryExporter(makeClient: { [engine] in
                        try engine.registryClient(insecureHosts: spec.insecure ? spec.location.registryHost.map { [$0] } ?? [] : [])
                    }))
                }
                try await CacheExporter(
                    destination, compression: Self.cacheCompression(spec),
                    cacheMounts: Self.cacheMountDirectories(mountIDs, state: state),
                    cacheMountOptions: Self.cacheMountOptions(spec, builds: builds),
                    baseConfigs: Self.baseImageConfigs(builds, content: state.content)).export(steps, in: context)
            } catch where spec.ignoreError {
                engine.warn("warning: --cache-to \(spec.text): \(error) (ignored: ignore-error=true)")
            } catch {
                throw RequestError("--cache-to \(spec.text): \(error)")
            }
        }
    }

    /// The config digests of the images the builds resolved (FROM, `--from`), as far as the store holds
    /// their manifests, each once.
    static func baseImageConfigs(_ builds: [PlatformBuild], content: ContentStore) -> [Digest] {
        var configs: [Digest] = []
        for build in builds {
            for material in build.worker.materials.all where material.kind == .image {
                guard let hex = material.digest["sha256"], let digest = try? Digest(parsing: "sha256:" + hex),
                      let data = try? content.data(for: digest),
                      let manifest = try? JSONDecoder().decode(Manifest.self, from: data),
                      !configs.contains(manifest.config.digest) else { continue }
                configs.append(manifest.config.digest)
            }
        }
        return configs
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
