import Foundation
import ImgContent
import ImgOCI

extension Exporter {
    /// An attestation manifest about `manifest`, as BuildKit writes one: each statement a layer of its own
    /// (stored as is, so its diff id is its digest), an image config for `unknown/unknown`, and the
    /// descriptor that points back at the image's manifest.
    static func storeAttestations(_ statements: [AttestationStatement], about manifest: Descriptor,
                                  in context: ExportContext) async throws -> Descriptor {
        let content = context.state.content
        var layers: [Descriptor] = []
        for statement in statements {
            var layer = try await content.ingest(statement.bytes, mediaType: Attestation.layerMediaType)
            layer.annotations = [Attestation.predicateTypeAnnotation: statement.predicateType]
            layers.append(layer)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let config = ImageConfig(platform: Attestation.platform, config: ContainerConfig(),
                                 rootfs: RootFS(diffIDs: layers.map(\.digest)))
        let configDescriptor = try await content.ingest(try encoder.encode(config), mediaType: .ociConfig)
        let document = Manifest(mediaType: .ociManifest, config: configDescriptor, layers: layers)
        var descriptor = try await content.ingest(try encoder.encode(document), mediaType: .ociManifest)
        descriptor.platform = Attestation.platform
        descriptor.annotations = [Attestation.referenceTypeAnnotation: Attestation.manifestReferenceType,
                                  Attestation.referenceDigestAnnotation: manifest.digest.description]
        return descriptor
    }
}
