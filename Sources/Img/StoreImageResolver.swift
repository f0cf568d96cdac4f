import Foundation
package import ImgContent
import ImgExport
package import ImgOCI
import ImgRegistry
package import ImgWorker
import Synchronization

/// FROM and COPY --from images: the local image store first (so builds work offline from loaded or built
/// images), a registry otherwise, recording what was pulled under its name as docker does. A pull brings the
/// manifest and config; the layers stay in the registry until a step needs them (`BlobFetcher`). Concurrent
/// stages asking for the same image share one pull.
package final class StoreImageResolver: BaseImageResolver {
    private let state: StateDirectory
    /// `--pull`: the registry is asked even when the store has the image (a newer push under the tag wins).
    private let alwaysPull: Bool
    private let debug: @Sendable (String) -> Void
    private let inFlight = Mutex<[String: Task<BaseImage, any Error>]>([:])
    /// Image configs at hand without a download (the caches a build imports carry their base images'),
    /// asked for a pulled manifest's config before it is fetched.
    private let knownConfigs = Mutex<(@Sendable (Digest) async -> Data?)?>(nil)
    /// Pulled images still being stored (`settle`).
    private let pending = Mutex<[Task<Void, any Error>]>([])

    package init(state: StateDirectory, alwaysPull: Bool = false, debug: @escaping @Sendable (String) -> Void = { _ in }) {
        self.state = state
        self.alwaysPull = alwaysPull
        self.debug = debug
    }

    package func resolve(_ name: String, platform: Platform) async throws -> BaseImage {
        let key = name + " " + platform.description
        let task = inFlight.withLock { tasks in
            if let existing = tasks[key] { return existing }
            let task = Task { try await self.load(name, platform: platform) }
            tasks[key] = task
            return task
        }
        return try await task.value
    }

    private func load(_ name: String, platform: Platform) async throws -> BaseImage {
        if name.hasPrefix(BuildContextSpec.ociLayoutScheme) { return try await layout(name, platform: platform) }
        let reference = try Reference(parsing: name).withDefaultTag
        var storedPlatform: Platform?
        if alwaysPull {
            debug("\(reference.familiar): --pull, asking the registry")
        } else if let record = try await state.images.find(reference) {
            debug("\(reference.familiar): using the stored image \(record.descriptor.digest)")
            switch try await local(record.descriptor, platform: platform) {
            case .found(let image): return image
            case .otherPlatform(let other): storedPlatform = other
            case .incomplete: break
            }
            debug("\(reference.familiar): the stored image has no complete \(platform) image, pulling")
        } else {
            debug("\(reference.familiar): not stored, pulling")
        }
        let pulled: (image: ResolvedImage, config: [UInt8])
        do {
            // The manifest and config are read into memory; the layers stay in the registry.
            pulled = try await RegistryAccess.with(try RegistryAccess.client()) { client in
                let image = try await client.resolve(reference, platform: platform)
                let config = image.decodedManifest.config
                if let lookup = self.knownConfigs.withLock({ $0 }), let known = await lookup(config.digest),
                   Int64(known.count) == config.size {
                    self.debug("\(reference.familiar): its config \(config.digest) is in the imported cache")
                    return (image, [UInt8](known))
                }
                return (image, try await client.fetchBlobBytes(config, from: reference))
            }
        } catch {
            // A stored image for another platform (a local build, `img load`) would otherwise be used
            // silently; say why the pull was tried.
            if let other = storedPlatform {
                throw RequestError("the stored \(reference.familiar) is \(other), not \(platform), and pulling \(platform) failed: \(error)")
            }
            throw error
        }
        guard let config = try? JSONDecoder().decode(ImageConfig.self, from: Data(pulled.config)) else {
            throw RequestError("image \(reference.familiar): its config \(pulled.image.decodedManifest.config.digest) is invalid")
        }
        guard config.platform.matches(platform) else {
            throw RequestError("image \(reference.familiar) is \(config.platform), not \(platform)")
        }
        // Where the layers are is noted now, since a step may need them at once; storing the documents and
        // naming the image (fsynced writes, a round of them per blob) goes on beside the build.
        await state.rememberSources(pulled.image.blobs, at: reference, debug: debug)
        let state = self.state
        let store = Task { try await state.storePulled(pulled.image, config: pulled.config) }
        pending.withLock { $0.append(store) }
        return BaseImage(manifestDigest: pulled.image.manifest.descriptor.digest, manifest: pulled.image.decodedManifest,
                         config: config)
    }

    /// Where configs may be found before fetching them (see `knownConfigs`); set before the first resolve.
    func useConfigs(_ lookup: @escaping @Sendable (Digest) async -> Data?) {
        knownConfigs.withLock { $0 = lookup }
    }

    /// Waits until every pulled image is stored and named; throws the first failure.
    package func settle() async throws {
        let tasks = pending.withLock { tasks in defer { tasks = [] }; return tasks }
        var failure: (any Error)?
        for task in tasks {
            do { try await task.value } catch { failure = failure ?? error }
        }
        if let failure { throw RequestError("cannot store a pulled base image: \(failure)") }
    }

    /// `settle` on a build that failed anyway: its own error is the one to report.
    package func settleQuietly() async {
        try? await settle()
    }

    /// `--build-context NAME=oci-layout://...` (see `BuildContextSpec`): `oci-layout://PATH@DIGEST`. The
    /// layout's blobs are read into the store (verified, under the build's lease), no name is recorded.
    private func layout(_ name: String, platform: Platform) async throws -> BaseImage {
        let address = name.dropFirst(BuildContextSpec.ociLayoutScheme.count)
        guard let at = address.lastIndex(of: "@") else { throw RequestError("invalid OCI layout address \(name)") }
        let path = String(address[..<at])
        let digest = try Digest(parsing: String(address[address.index(after: at)...]))
        let entries = try await OCILayout.read(from: path, into: state.content)
        var root = entries.first { $0.descriptor.digest == digest }?.descriptor
        if root == nil {
            // A manifest inside one of the layout's indexes.
            for entry in entries where entry.descriptor.mediaType.isIndex {
                if let child = try state.content.children(of: entry.descriptor).first(where: { $0.digest == digest }) {
                    root = child
                    break
                }
            }
        }
        guard let root else { throw RequestError("OCI layout \(path) has no image \(digest)") }
        debug("oci-layout \(path): using \(digest)")
        switch try await local(root, platform: platform) {
        case .found(let image): return image
        case .otherPlatform(let other): throw RequestError("the image in the OCI layout \(path) is \(other), not \(platform)")
        case .incomplete: throw RequestError("the OCI layout \(path) has no complete \(platform) image")
        }
    }

    private enum Local {
        case found(BaseImage)
        /// A single-platform image for another platform (the one given).
        case otherPlatform(Platform)
        /// An index without this platform, or a document or layer missing from the store.
        case incomplete
    }

    /// The `platform` image under `root` when the store holds all of it.
    private func local(_ root: Descriptor, platform: Platform) async throws -> Local {
        let decoder = JSONDecoder()
        var manifestDescriptor = root
        if root.mediaType.isIndex {
            guard state.content.exists(root.digest) else { return .incomplete }
            let index = try decoder.decode(Index.self, from: state.content.data(for: root.digest))
            guard let chosen = index.manifest(for: platform) else { return .incomplete }
            manifestDescriptor = chosen
        }
        guard state.content.exists(manifestDescriptor.digest) else { return .incomplete }
        let manifest = try decoder.decode(Manifest.self, from: state.content.data(for: manifestDescriptor.digest))
        guard state.content.exists(manifest.config.digest) else { return .incomplete }
        let config = try decoder.decode(ImageConfig.self, from: state.content.data(for: manifest.config.digest))
        guard config.platform.matches(platform) else { return .otherPlatform(config.platform) }
        // Layers a lazy cache import left in the registry count: the worker fetches them if a step needs them.
        let absent = manifest.layers.map(\.digest).filter { !state.content.exists($0) }
        if !absent.isEmpty {
            let located = (try? await state.sources.allLocated(absent)) ?? false
            guard located else { return .incomplete }
        }
        return .found(BaseImage(manifestDigest: manifestDescriptor.digest, manifest: manifest, config: config))
    }
}
