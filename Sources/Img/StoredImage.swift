import Foundation
package import ImgContent
import ImgDockerfile
package import ImgOCI

/// An image from the store resolved to one platform: its record, index (if any), manifest and config.
package struct StoredImage: Sendable {
    package var record: ImageRecord
    package var index: Index?
    package var manifestDescriptor: Descriptor
    package var manifest: Manifest
    package var config: ImageConfig

    /// Looks `name` up and picks `platform` (default: the host's) from a multi-platform index.
    package static func load(_ name: String, platform: String?, state: StateDirectory) async throws -> StoredImage {
        let record = try await state.images.get(try Reference(parsing: name))
        let wanted = try Platform(parsing: platform ?? BuildPlatform.host.description)
        var index: Index?
        var manifestDescriptor = record.descriptor
        if record.descriptor.mediaType.isIndex {
            let decoded = try decode(Index.self, record.descriptor, state, name)
            guard let chosen = decoded.manifest(for: wanted) else {
                throw RequestError("image \(record.name.familiar) has no manifest for platform \(wanted)")
            }
            index = decoded
            manifestDescriptor = chosen
        }
        let manifest = try decode(Manifest.self, manifestDescriptor, state, name)
        let config = try decode(ImageConfig.self, manifest.config, state, name)
        return StoredImage(record: record, index: index, manifestDescriptor: manifestDescriptor,
                           manifest: manifest, config: config)
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ descriptor: Descriptor, _ state: StateDirectory,
                                             _ name: String) throws -> T {
        let data = try state.content.data(for: descriptor.digest)
        do { return try JSONDecoder().decode(type, from: data) } catch {
            throw RequestError("image \(name): stored \(type) \(descriptor.digest) is not valid JSON")
        }
    }
}
