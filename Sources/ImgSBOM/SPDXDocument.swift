package import Foundation

/// An SPDX 2.3 document in its JSON form (the spec's JSON schema names the fields). Optional fields left
/// nil are not written.
package struct SPDXDocument: Codable, Sendable, Hashable {
    package var spdxVersion = "SPDX-2.3"
    package var dataLicense = "CC0-1.0"
    package var spdxID = "SPDXRef-DOCUMENT"
    package var name: String
    package var documentNamespace: String
    package var creationInfo: CreationInfo
    package var documentDescribes: [String]
    package var packages: [Package]
    package var files: [File]
    package var hasExtractedLicensingInfos: [ExtractedLicense]?
    package var relationships: [Relationship]

    enum CodingKeys: String, CodingKey {
        case spdxVersion, dataLicense, spdxID = "SPDXID", name, documentNamespace, creationInfo, documentDescribes
        case packages, files, hasExtractedLicensingInfos, relationships
    }

    package struct CreationInfo: Codable, Sendable, Hashable {
        /// UTC, `YYYY-MM-DDThh:mm:ssZ`.
        package var created: String
        package var creators: [String]
    }

    package struct Package: Codable, Sendable, Hashable {
        package var spdxID: String
        package var name: String
        package var versionInfo: String?
        package var supplier: String?
        package var originator: String?
        package var downloadLocation = SPDXDocument.noAssertion
        package var filesAnalyzed: Bool
        package var packageVerificationCode: VerificationCode?
        package var licenseConcluded: String
        package var licenseDeclared: String
        package var copyrightText = SPDXDocument.noAssertion
        package var sourceInfo: String?
        package var primaryPackagePurpose: String?
        package var externalRefs: [ExternalReference]?

        enum CodingKeys: String, CodingKey {
            case spdxID = "SPDXID", name, versionInfo, supplier, originator, downloadLocation, filesAnalyzed
            case packageVerificationCode, licenseConcluded, licenseDeclared, copyrightText, sourceInfo
            case primaryPackagePurpose, externalRefs
        }
    }

    package struct VerificationCode: Codable, Sendable, Hashable {
        package var packageVerificationCodeValue: String
    }

    package struct ExternalReference: Codable, Sendable, Hashable {
        package var referenceCategory: String
        package var referenceType: String
        package var referenceLocator: String
    }

    package struct File: Codable, Sendable, Hashable {
        package var spdxID: String
        package var fileName: String
        package var checksums: [Checksum]
        package var licenseConcluded = SPDXDocument.noAssertion
        package var copyrightText = SPDXDocument.noAssertion

        enum CodingKeys: String, CodingKey {
            case spdxID = "SPDXID", fileName, checksums, licenseConcluded, copyrightText
        }
    }

    package struct Checksum: Codable, Sendable, Hashable {
        package var algorithm: String
        package var checksumValue: String
    }

    package struct ExtractedLicense: Codable, Sendable, Hashable {
        package var licenseId: String
        package var name: String
        package var extractedText: String
    }

    package struct Relationship: Codable, Sendable, Hashable {
        package var spdxElementId: String
        package var relationshipType: String
        package var relatedSpdxElement: String
    }

    package static let noAssertion = "NOASSERTION"

    /// The document as JSON: keys sorted and no other choice left to the encoder, so the same document is
    /// always the same bytes.
    package func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}
