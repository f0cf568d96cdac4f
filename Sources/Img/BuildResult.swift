package import Foundation
package import ImgOCI

/// What a build made, for `--iidfile`, `--metadata-file` and `-q`: the image the first image output
/// (`type=image`, `type=oci`, `type=docker`) wrote, and the names it was given.
package struct BuildResult: Sendable, Hashable {
    /// The image's manifest, or its index for several platforms.
    package var descriptor: Descriptor
    /// The config of a single-platform image (none for an index).
    package var configDigest: Digest?
    package var names: [Reference]

    package init(descriptor: Descriptor, configDigest: Digest?, names: [Reference]) {
        self.descriptor = descriptor
        self.configDigest = configDigest
        self.names = names
    }

    /// buildx's `--metadata-file` document: `containerimage.digest`, `containerimage.config.digest` (single
    /// platform), `containerimage.descriptor`, `image.name` (the names, comma-separated).
    package var metadataJSON: Data {
        get throws {
            var descriptorObject: [String: Any] = [
                "mediaType": descriptor.mediaType.rawValue, "digest": descriptor.digest.description, "size": descriptor.size,
            ]
            if let annotations = descriptor.annotations { descriptorObject["annotations"] = annotations }
            var object: [String: Any] = [
                "containerimage.digest": descriptor.digest.description,
                "containerimage.descriptor": descriptorObject,
            ]
            if let configDigest { object["containerimage.config.digest"] = configDigest.description }
            if !names.isEmpty { object["image.name"] = names.map(\.description).joined(separator: ",") }
            return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        }
    }
}
