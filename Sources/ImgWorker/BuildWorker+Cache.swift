package import Foundation
import ImgContent
import ImgFrontend
import ImgGraph
package import ImgOCI

extension BuildWorker {
    /// The cached result for `key` and the manifest of its record: the local cache first, then each
    /// `--cache-from` source in order (which copies the result's blobs in, records it locally and hands it
    /// over, so it is not read back). Nil on a miss, with --no-cache, or when a blob the record needs is
    /// gone (and not known to be in a registry).
    func cachedState(_ key: Digest) async throws -> (state: BuildState, manifest: Descriptor)? {
        if options.noCache { return nil }
        if let local = try await localState(key) { return local }
        for source in cacheSources {
            guard let imported = await source.importRecord(key, into: state),
                  imported.config.rootfs.diffIDs.count == imported.manifest.layers.count else { continue }
            // Its layers are in the store or noted where they are (a lazy import): as a local hit has them.
            let layers = zip(imported.manifest.layers, imported.config.rootfs.diffIDs).map { LayerRecord(descriptor: $0, diffID: $1) }
            return (BuildState(cacheKey: key, layers: layers, config: imported.config, cached: true), imported.descriptor)
        }
        return nil
    }

    /// The result for `key` in the state directory's cache: its layers and config, stored as an OCI manifest
    /// in the content store so garbage collection keeps what a cache record reaches.
    func localState(_ key: Digest) async throws -> (state: BuildState, manifest: Descriptor)? {
        guard let record = try await state.cache.get(key) else { return nil }
        guard let manifestData = try? state.content.data(for: record.result.digest),
              let manifest = try? JSONDecoder().decode(Manifest.self, from: manifestData),
              let configData = try? state.content.data(for: manifest.config.digest),
              let config = try? JSONDecoder().decode(ImageConfig.self, from: configData),
              config.rootfs.diffIDs.count == manifest.layers.count
        else { return nil }
        // A layer a lazy cache import left in the registry counts: it is fetched if a step needs its bytes.
        let absent = manifest.layers.map(\.digest).filter { !state.content.exists($0) }
        if !absent.isEmpty {
            guard blobFetcher != nil else { return nil }
            let located = (try? await state.sources.allLocated(absent)) ?? false
            guard located else { return nil }
        }
        let layers = zip(manifest.layers, config.rootfs.diffIDs).map { LayerRecord(descriptor: $0, diffID: $1) }
        return (BuildState(cacheKey: key, layers: layers, config: config, cached: true), record.result)
    }

    /// A step through the cache: a hit is shown as CACHED and returned; a miss says why, runs `body` on a
    /// copy of the parent that carries the new key, and records what it made (in the background:
    /// `records.drain()` waits for it).
    func throughCache(_ vertex: Int, _ step: BuildStep, key: CacheKeyBuilder, parent: BuildState,
                      _ body: (inout BuildState) async throws -> Void) async throws -> BuildState {
        // A layer made with SOURCE_DATE_EPOCH has its times clamped to it (and its history dated by it): a
        // result made without it, or with another, must not stand in. Without one the key is as it was.
        var key = key
        if let epoch = options.sourceDateEpoch { key.add("source-date-epoch", String(epoch)) }
        let cacheKey = key.finish()
        let parentKey = parent.cacheKey == cacheKey ? nil : parent.cacheKey
        if !ignoresCache(step), var found = try await cachedState(cacheKey) {
            produced.add(ProducedResult(vertex: vertex, key: cacheKey, parent: parentKey, manifest: found.manifest))
            rememberKey(step, key)
            progress.started(vertex, title: step.title)
            progress.cached(vertex)
            // The history texts before this step are the parent's: keys leave out texts that do not change
            // the files (an ARG's value), so the record may carry older ones. The times stay the record's, so
            // an unchanged rebuild (or another machine's) makes the same image.
            let before = parent.config.history ?? []
            if var recorded = found.state.config.history, recorded.count >= before.count {
                for (index, entry) in before.enumerated() {
                    let created = recorded[index].created
                    recorded[index] = entry
                    recorded[index].created = created
                }
                found.state.config.history = recorded
            }
            return found.state
        }
        return try await shown(vertex, step) {
            explainMiss(vertex, step, key)
            rememberKey(step, key)
            var result = parent
            result.cacheKey = cacheKey
            result.cached = false
            try await body(&result)
            let made = result
            records.add {
                let manifest = try await self.remember(made)
                self.produced.add(ProducedResult(vertex: vertex, key: cacheKey, parent: parentKey, manifest: manifest))
            }
            return result
        }
    }

    /// `--no-cache-filter`: the step belongs to a stage named there, so it runs again (its result still
    /// replaces the record, as a `--no-cache` build's does).
    func ignoresCache(_ step: BuildStep) -> Bool {
        guard !options.noCacheStages.isEmpty, let name = step.stageName else { return false }
        return options.noCacheStages.contains(name.lowercased())
    }

    /// Records `result` as the outcome of its key; returns the record's manifest.
    func remember(_ result: BuildState) async throws -> Descriptor {
        let (manifest, _) = try await storeImage(result, mediaTypes: .oci)
        try await state.cache.put(key: result.cacheKey, result: manifest)
        return manifest
    }

    /// Writes the config and manifest of `result` into the content store; `inlineCache` (an
    /// `InlineCache.document`) goes into the config beside its fields, `annotations` (`--annotation`) into
    /// the manifest.
    package func storeImage(_ result: BuildState, mediaTypes: ImageMediaTypes, inlineCache: Data? = nil,
                            annotations: [String: String]? = nil) async throws -> (manifest: Descriptor, config: Descriptor) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let configBytes = try encoder.encode(InlineCachedConfig(result.config, cache: inlineCache))
        let config = Descriptor(mediaType: mediaTypes.config, digest: .sha256(of: configBytes), size: Int64(configBytes.count))
        let layers = result.layers.map { layer in
            var descriptor = layer.descriptor
            descriptor.mediaType = mediaTypes.layer(descriptor.mediaType)
            return descriptor
        }
        let manifest = Manifest(mediaType: mediaTypes.manifest, config: config, layers: layers, annotations: annotations)
        let manifestBytes = try encoder.encode(manifest)
        // Both blobs at once (each waits for its own fsyncs); nothing names the manifest before both are in.
        async let storedConfig = state.content.ingest(configBytes, expected: config)
        async let storedManifest = state.content.ingest(manifestBytes, mediaType: mediaTypes.manifest)
        // Whoever takes the manifest next (a cache record, an image name, an archive) needs its layers stored.
        try await records.waitForBlobs(result.layers.map(\.descriptor.digest))
        return (try await storedManifest, try await storedConfig)
    }
}
