package import ImgOCI

/// What a reference resolved to: the document the tag points at (kept whole when it is an index, so the
/// image keeps its identity) and the single-platform manifest chosen from it.
package struct ResolvedImage: Sendable, Hashable {
    package var reference: Reference
    /// The tag's (or digest's) target: an index or a manifest.
    package var root: FetchedManifest
    /// The chosen platform's manifest (the same as `root` for a single-platform image).
    package var manifest: FetchedManifest
    package var decodedManifest: Manifest
    package var index: Index?

    /// The descriptors of the config and layers, config first.
    package var blobs: [Descriptor] { [decodedManifest.config] + decodedManifest.layers }
}

extension RegistryClient {
    /// Resolves `reference` to a manifest for `platform`, descending through (nested) indexes.
    package func resolve(_ reference: Reference, platform: Platform) async throws -> ResolvedImage {
        let root = try await fetchManifest(reference)
        var current = root
        var index: Index?
        var depth = 0
        while current.isIndex {
            depth += 1
            guard depth <= 4 else {
                throw RegistryError(.protocolError, "\(reference) nests indexes too deeply")
            }
            let decoded = try current.decodeIndex()
            if index == nil { index = decoded }
            guard let chosen = decoded.manifest(for: platform) else {
                let available = decoded.manifests.compactMap { $0.platform?.description }.joined(separator: ", ")
                throw RegistryError(.platformNotFound,
                                    "no manifest for \(platform) in \(reference)" + (available.isEmpty ? "" : " (it has \(available))"))
            }
            var child = reference
            child.digest = chosen.digest
            current = try await fetchManifest(child)
            current.descriptor.platform = chosen.platform
        }
        return ResolvedImage(reference: reference, root: root, manifest: current,
                             decodedManifest: try current.decodeManifest(), index: index)
    }

    /// Pulls the image for `platform`: its index (if any), manifest, config and layers each go to the sink
    /// `sinkFor` returns, `options.concurrency` blobs at a time. A nil sink means "already have it".
    @discardableResult
    package func pullImage(_ reference: Reference, platform: Platform,
                           into sinkFor: @escaping @Sendable (Descriptor) async throws -> (any BlobSink)?) async throws
        -> ResolvedImage
    {
        let image = try await resolve(reference, platform: platform)
        // Documents already fetched and verified: hand their bytes over directly.
        var documents = [image.root]
        if image.manifest.descriptor.digest != image.root.descriptor.digest { documents.append(image.manifest) }
        for doc in documents {
            guard var sink = try await sinkFor(doc.descriptor) else { continue }
            try await RegistryClient.writeVerified(doc, into: &sink)
        }
        var seen = Set<Digest>()
        let blobs = image.blobs.filter { seen.insert($0.digest).inserted }
        try await forEach(blobs, concurrency: options.concurrency) { descriptor in
            guard var sink = try await sinkFor(descriptor) else { return }
            try await self.fetchBlob(descriptor, from: reference, into: &sink)
        }
        return image
    }

    /// Pushes the image whose root manifest or index is `root` to `reference`: blobs first (mounted from a
    /// repository `mountSources` names on the same registry, else skipped when the registry has them, else
    /// uploaded, small ones without asking first; `options.pushConcurrency` at a time), then child manifests
    /// by digest, then the root under the tag. `content` supplies every document and blob by descriptor.
    /// Returns the root's digest.
    @discardableResult
    package func pushImage(_ reference: Reference, root: Descriptor,
                           mountSources: @escaping @Sendable (Digest) async -> [Reference] = { _ in [] },
                           onBlob: @escaping @Sendable (Descriptor, BlobPushOutcome) -> Void = { _, _ in },
                           content: @escaping @Sendable (Descriptor) async throws -> BlobContent) async throws -> Digest {
        try await pushTree(root, to: reference, mountSources: mountSources, onBlob: onBlob, content: content, isRoot: true)
    }

    private func pushTree(_ descriptor: Descriptor, to reference: Reference,
                          mountSources: @escaping @Sendable (Digest) async -> [Reference],
                          onBlob: @escaping @Sendable (Descriptor, BlobPushOutcome) -> Void,
                          content: @escaping @Sendable (Descriptor) async throws -> BlobContent, isRoot: Bool) async throws -> Digest {
        let bytes = try await documentBytes(descriptor, content: content)
        let doc = FetchedManifest(descriptor: descriptor, bytes: bytes)
        if descriptor.mediaType.isIndex {
            for child in try doc.decodeIndex().manifests where child.mediaType.isIndex || child.mediaType.isManifest {
                _ = try await pushTree(child, to: reference, mountSources: mountSources, onBlob: onBlob, content: content,
                                       isRoot: false)
            }
        } else {
            let manifest = try doc.decodeManifest()
            var seen = Set<Digest>()
            let blobs = ([manifest.config] + manifest.layers).filter { seen.insert($0.digest).inserted }
            try await forEach(blobs, concurrency: options.pushConcurrency) { blob in
                let known = await mountSources(blob.digest).filter { $0.domain == reference.domain }
                let from = known.first { $0.path != reference.path }
                // Known to be in the target already (a re-push): ask first, mount only if it went.
                let there = known.contains { $0.path == reference.path }
                let outcome = try await self.pushBlob(blob, contentWhenUploading: { try await content(blob) }, to: reference, mountFrom: from,
                                                      checkExists: there || (from == nil && blob.size > self.options.askBeforeUploadingAbove))
                onBlob(blob, outcome)
            }
        }
        var target = reference
        if !isRoot || reference.tag == nil {
            target.tag = nil
            target.digest = descriptor.digest
        }
        return try await putManifest(bytes, mediaType: descriptor.mediaType, to: target)
    }

    private func documentBytes(_ descriptor: Descriptor,
                               content: @Sendable (Descriptor) async throws -> BlobContent) async throws -> [UInt8] {
        let bytes: [UInt8]
        switch try await content(descriptor) {
        case .bytes(let b): bytes = b
        case .file(let path):
            var reader = try FileRangeReader(path: path, range: 0..<descriptor.size)
            var collected: [UInt8] = []
            while let chunk = try reader.next() { collected += Array(buffer: chunk) }
            bytes = collected
        }
        guard Digest.sha256(of: bytes) == descriptor.digest, Int64(bytes.count) == descriptor.size else {
            throw RegistryError(.digestMismatch, "manifest \(descriptor.digest) to push does not match its digest")
        }
        return bytes
    }

    package static func writeVerified(_ doc: FetchedManifest, into sink: inout some BlobSink) async throws {
        do {
            guard sink.offset == 0 else {
                throw RegistryError(.protocolError, "sink for \(doc.descriptor.digest) is not empty")
            }
            try doc.bytes.withUnsafeBytes { try sink.write($0) }
            try await sink.commit(doc.descriptor)
        } catch {
            await sink.abort()
            throw error
        }
    }

    /// Runs `body` for every item, at most `concurrency` at once; the first failure cancels the rest.
    func forEach<T: Sendable>(_ items: [T], concurrency: Int,
                              _ body: @escaping @Sendable (T) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var iterator = items.makeIterator()
            for _ in 0..<max(concurrency, 1) {
                guard let item = iterator.next() else { break }
                group.addTask { try await body(item) }
            }
            while try await group.next() != nil {
                if let item = iterator.next() { group.addTask { try await body(item) } }
            }
        }
    }
}
