import Foundation
import ImgContent
import ImgOCI
import ImgRegistry
import ImgWorker
import Synchronization

/// FROM and COPY --from images: the local image store first (so builds work offline from loaded or built
/// images), a registry otherwise, recording what was pulled under its name as docker does. Concurrent
/// stages asking for the same image share one pull.
final class StoreImageResolver: BaseImageResolver {
    private let state: StateDirectory
    private let log: CommandLog
    private let inFlight = Mutex<[String: Task<BaseImage, any Error>]>([:])

    init(state: StateDirectory, log: CommandLog) {
        self.state = state
        self.log = log
    }

    func resolve(_ name: String, platform: Platform) async throws -> BaseImage {
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
        let reference = try parseReference(name).withDefaultTag
        let root: Descriptor
        if let record = try await state.images.find(reference) {
            log.debug("\(reference.familiar): using the stored image \(record.descriptor.digest)")
            root = record.descriptor
        } else {
            log.debug("\(reference.familiar): not stored, pulling")
            root = try await RegistryAccess.with(try RegistryAccess.client()) { client in
                try await self.state.content.withLease { lease in
                    let image = try await client.pullImage(reference, platform: platform) { descriptor in
                        try await self.state.sink(for: descriptor, lease: lease)
                    }
                    _ = try await self.state.images.put(reference, descriptor: image.root.descriptor)
                    await self.state.rememberSources(image.blobs, at: reference, log: self.log)
                    return image.root.descriptor
                }
            }
        }
        var manifestDescriptor = root
        if root.mediaType.isIndex {
            let index = try JSONDecoder().decode(Index.self, from: state.content.data(for: root.digest))
            guard let chosen = index.manifest(for: platform) else {
                throw CommandError("image \(reference.familiar) has no manifest for platform \(platform)")
            }
            manifestDescriptor = chosen
        }
        let manifest = try JSONDecoder().decode(Manifest.self, from: state.content.data(for: manifestDescriptor.digest))
        let config = try JSONDecoder().decode(ImageConfig.self, from: state.content.data(for: manifest.config.digest))
        for layer in manifest.layers where !state.content.exists(layer.digest) {
            throw CommandError("image \(reference.familiar): layer \(layer.digest) is missing from the store; pull it again")
        }
        return BaseImage(manifestDigest: manifestDescriptor.digest, manifest: manifest, config: config)
    }
}
