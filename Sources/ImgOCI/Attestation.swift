package import Foundation

/// An in-toto statement (v1): what a predicate says about the subjects, each named with its digests.
package struct InTotoStatement<Predicate: Codable & Sendable>: Codable, Sendable {
    package struct Subject: Codable, Sendable, Hashable {
        package var name: String
        package var digest: [String: String]

        package init(name: String, digest: Digest) {
            self.name = name
            self.digest = [digest.algorithm.rawValue: digest.hex]
        }
    }

    package static var statementType: String { "https://in-toto.io/Statement/v1" }

    package var type: String = Self.statementType
    package var subject: [Subject]
    package var predicateType: String
    package var predicate: Predicate

    enum CodingKeys: String, CodingKey {
        case type = "_type", subject, predicateType, predicate
    }

    /// The subjects of a statement about `manifest`: one per name of the image (`_` when it has none).
    package static func subjects(of manifest: Digest, names: [Reference], platform: Platform) -> [Subject] {
        (names.isEmpty ? [nil] : names.map(Optional.some)).map {
            Subject(name: Attestation.subjectName($0, platform: platform), digest: manifest)
        }
    }

    package init(subject: [Subject], predicateType: String, predicate: Predicate) {
        self.subject = subject
        self.predicateType = predicateType
        self.predicate = predicate
    }

    /// Sorted keys, slashes unescaped: the same statement is the same bytes (reproducible images).
    package func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

/// How BuildKit attaches attestations to an image, which img follows so that buildx, docker and registries
/// read them: beside each platform's manifest in the index, an attestation manifest (platform
/// `unknown/unknown`) whose layers are in-toto statements about that manifest.
package enum Attestation {
    package static let layerMediaType: MediaType = "application/vnd.in-toto+json"
    /// On each statement layer: the predicate it holds.
    package static let predicateTypeAnnotation = "in-toto.io/predicate-type"
    /// On the attestation manifest's descriptor in the index.
    package static let referenceTypeAnnotation = "vnd.docker.reference.type"
    package static let referenceDigestAnnotation = "vnd.docker.reference.digest"
    package static let manifestReferenceType = "attestation-manifest"
    package static let platform = Platform(os: "unknown", architecture: "unknown")

    package static let slsaProvenanceV1 = "https://slsa.dev/provenance/v1"
    package static let spdxDocument = "https://spdx.dev/Document"

    /// Whether an index entry is an attestation manifest rather than an image.
    package static func isAttestationManifest(_ descriptor: Descriptor) -> Bool {
        descriptor.annotations?[referenceTypeAnnotation] == manifestReferenceType
    }

    /// The subject name BuildKit gives an image: a package URL of its name and tag with its platform, or `_`
    /// when the image has no name.
    package static func subjectName(_ reference: Reference?, platform: Platform) -> String {
        guard let reference else { return "_" }
        let platformText = platform.description.replacingOccurrences(of: "/", with: "%2F")
        let version = reference.tag ?? reference.digest?.description ?? "latest"
        return "pkg:docker/\(reference.familiarName)@\(version)?platform=\(platformText)"
    }
}

/// One statement to attach to an image's manifest: its predicate type and its bytes.
package struct AttestationStatement: Sendable, Hashable {
    package var predicateType: String
    package var bytes: Data

    package init(predicateType: String, bytes: Data) {
        self.predicateType = predicateType
        self.bytes = bytes
    }
}
