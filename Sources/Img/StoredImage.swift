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

    /// One statement attached to the manifest (provenance, SBOM), as `img inspect` shows it.
    package struct AttachedStatement: Sendable, Encodable {
        package var predicateType: String
        package var digest: Digest
        package var statement: JSONValue
    }

    /// The statements of the attestation manifest that names this manifest, if the index has one.
    package func attestations(state: StateDirectory) throws -> [AttachedStatement] {
        guard let index, let entry = index.manifests.first(where: {
            Attestation.isAttestationManifest($0)
                && $0.annotations?[Attestation.referenceDigestAnnotation] == manifestDescriptor.digest.description
        }) else { return [] }
        let manifest = try Self.decode(Manifest.self, entry, state, record.name.familiar)
        return try manifest.layers.map { layer in
            AttachedStatement(predicateType: layer.annotations?[Attestation.predicateTypeAnnotation] ?? "",
                              digest: layer.digest,
                              statement: try Self.decode(JSONValue.self, layer, state, record.name.familiar))
        }
    }

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
