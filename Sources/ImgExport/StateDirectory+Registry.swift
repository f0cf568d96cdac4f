package import ImgContent
package import ImgOCI
package import ImgRegistry

/// Where blobs came from, so a push can mount them from another repository of the same registry.
/// Only a hint: failing to record or read it never fails a pull or a push.
extension StateDirectory {
    /// Pulls `reference` (the `platform` image of an index, which is kept too) with `client` into the
    /// store and names it, all inside one lease so that GC never sees the blobs unreferenced; remembers
    /// where the blobs came from for later pushes. `img pull` and a build's FROM both come here.
    ///
    /// `leavingLayers`: only the documents and the config come down; the layers are noted as in that
    /// repository and fetched when something needs their bytes (a build's FROM: a build whose steps all hit
    /// a cache never downloads its base's layers).
    package func pull(_ reference: Reference, platform: Platform, with client: RegistryClient,
                      leavingLayers: Bool = false, debug: ((String) -> Void)? = nil) async throws -> ResolvedImage {
        try await content.withLease { lease in
            let image = try await client.pullImage(reference, platform: platform) { descriptor in
                if leavingLayers, descriptor.mediaType.isLayer, !self.content.exists(descriptor.digest) { return nil }
                return try await self.sink(for: descriptor, lease: lease)
            }
            _ = try await images.put(reference, descriptor: image.root.descriptor)
            await rememberSources(image.blobs, at: reference, debug: debug)
            return image
        }
    }

    /// Stores what a build read of a base image (`image`'s documents and its `config` bytes, each verified
    /// on the way in) and names it, as `pull(leavingLayers: true)` does: the layers stay in the registry.
    package func storePulled(_ image: ResolvedImage, config: [UInt8]) async throws {
        try await content.withLease { lease in
            var documents = [image.root]
            if image.manifest.descriptor.digest != image.root.descriptor.digest { documents.append(image.manifest) }
            // The config first and the manifests after it, so a stored manifest's config is there too.
            if var sink = try await sink(for: image.decodedManifest.config, lease: lease) {
                try config.withUnsafeBytes { try sink.write($0) }
                try await sink.commit(image.decodedManifest.config)
            }
            for document in documents.reversed() {
                guard var sink = try await sink(for: document.descriptor, lease: lease) else { continue }
                try await RegistryClient.writeVerified(document, into: &sink)
            }
            _ = try await images.put(image.reference, descriptor: image.root.descriptor)
        }
    }

    /// After pulling an image from `reference`: its config and layers are in that repository.
    package func rememberSources(_ blobs: [Descriptor], at reference: Reference, debug: ((String) -> Void)? = nil) async {
        do {
            try await sources.record(blobs.map(\.digest), registry: reference.domain, repository: reference.path)
        } catch {
            debug?("could not note where the blobs of \(reference.familiar) came from: \(error)")
        }
    }

    /// After pushing the image `root` to `reference`: everything it reaches is in that repository.
    private func rememberPushed(_ root: Descriptor, to reference: Reference, debug: ((String) -> Void)? = nil) async {
        do {
            // Blobs the store left in a registry (lazy cache import) were mounted or fetched: there too.
            let closure = try content.closure(of: [root])
            let digests = closure.digests.union(closure.missingRequired.map(\.digest))
            try await sources.record(digests, registry: reference.domain, repository: reference.path)
        } catch {
            debug?("could not note that \(reference.familiar) holds its blobs: \(error)")
        }
    }

    /// Pushes the stored image `root` to `reference` with `client` (`img push` and `-o type=image,push=true`):
    /// layers mounted from where this store saw them, every blob read from the store, and what the push
    /// left in the target remembered for the next push. Returns the digest the registry holds.
    /// A blob a lazy cache import left in a registry is mounted or skipped when it can be, else fetched
    /// with `fetcher` first.
    package func push(_ root: Descriptor, to reference: Reference, with client: RegistryClient,
                      fetcher: (any BlobFetcher)? = nil,
                      onBlob: @escaping @Sendable (Descriptor, BlobPushOutcome) -> Void = { _, _ in },
                      debug: ((String) -> Void)? = nil) async throws -> Digest {
        let content = self.content
        let digest = try await client.pushImage(reference, root: root, mountSources: mountSources(for: reference),
                                                onBlob: onBlob) { descriptor in
            if !content.exists(descriptor.digest), let fetcher { try await fetcher.fetchMissing([descriptor]) }
            guard content.exists(descriptor.digest) else {
                throw ExportError(.missingBlob, "cannot push \(reference.familiar): blob \(descriptor.digest) is not in the store (pull the image again)")
            }
            return .file(path: content.path(for: descriptor.digest))
        }
        await rememberPushed(root, to: reference, debug: debug)
        return digest
    }

    /// For `pushImage`: the repositories of the target's registry known to hold a blob.
    package func mountSources(for target: Reference) -> @Sendable (Digest) async -> [Reference] {
        let sources = self.sources
        return { digest in
            let paths = (try? await sources.repositories(holding: digest, registry: target.domain)) ?? []
            return paths.map { Reference(domain: target.domain, path: $0) }
        }
    }
}
