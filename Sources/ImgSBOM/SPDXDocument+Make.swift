import Crypto
package import Foundation
import Glibc

extension SPDXDocument {
    /// The SPDX id of the package that stands for the whole root filesystem.
    package static let rootID = "SPDXRef-RootFilesystem"

    /// The document for `packages` found in one image's root filesystem. Everything in it follows from the
    /// arguments: ids come from names (no random parts), packages and files are sorted, and `created` is
    /// given, so a reproducible build gets the same document byte for byte.
    ///
    /// - Parameters:
    ///   - name: the document's name and its root package's (an image reference, say).
    ///   - namespace: the unique URI of this document (`https://.../<image digest>`).
    ///   - toolVersion: img's version, for the `Tool: img-VERSION` creator.
    package static func make(packages: [SBOMPackage], name: String, namespace: String, created: Date,
                             toolVersion: String) -> SPDXDocument {
        let sorted = packages.sorted(by: SBOMPackage.ordered)
        var documentPackages: [Package] = [
            Package(spdxID: rootID, name: name, filesAnalyzed: false, licenseConcluded: noAssertion,
                    licenseDeclared: noAssertion, primaryPackagePurpose: "CONTAINER"),
        ]
        var relationships: [Relationship] = [
            Relationship(spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: rootID),
        ]
        var files: [String: File] = [:]
        var references: [String: Set<String>] = [:]
        var usedIDs: Set<String> = [rootID]
        for package in sorted {
            let id = uniqueID(packageIDBase(package), &usedIDs)
            var declared = noAssertion
            if let text = package.license, let license = SPDXLicense(text) {
                declared = license.expression
                for (reference, original) in license.references { references[reference, default: []].insert(original) }
            }
            let verification = package.files.isEmpty ? nil : VerificationCode(packageVerificationCodeValue: verificationCode(package.files))
            documentPackages.append(Package(
                spdxID: id, name: package.name, versionInfo: package.epoch.map { "\($0):\(package.version)" } ?? package.version,
                supplier: agent(package.supplier), originator: package.originator.map { agent($0) ?? noAssertion },
                filesAnalyzed: !package.files.isEmpty, packageVerificationCode: verification,
                licenseConcluded: noAssertion, licenseDeclared: declared,
                sourceInfo: package.sourcePackage.map { "built from source package \($0)" },
                externalRefs: [ExternalReference(referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: package.purl)]))
            relationships.append(Relationship(spdxElementId: rootID, relationshipType: "CONTAINS", relatedSpdxElement: id))
            for file in package.files {
                let fileID = fileID(file.path)
                if files[file.path] == nil {
                    files[file.path] = File(spdxID: fileID, fileName: file.path, checksums: [
                        Checksum(algorithm: "SHA1", checksumValue: file.sha1),
                        Checksum(algorithm: "SHA256", checksumValue: file.sha256),
                    ])
                }
                relationships.append(Relationship(spdxElementId: id, relationshipType: "CONTAINS", relatedSpdxElement: fileID))
            }
        }
        let extracted = references.keys.sorted().map { reference in
            let names = references[reference, default: []].sorted()
            return ExtractedLicense(licenseId: reference, name: names.joined(separator: ", "),
                                    extractedText: "A licence its package names \(names.map { "\"\($0)\"" }.joined(separator: ", ")), not on the SPDX licence list; its text was not read.")
        }
        return SPDXDocument(
            name: name, documentNamespace: namespace,
            creationInfo: CreationInfo(created: timestamp(created), creators: ["Tool: img-\(toolVersion)"]),
            documentDescribes: [rootID], packages: documentPackages,
            files: files.values.sorted { $0.fileName.utf8.lexicographicallyPrecedes($1.fileName.utf8) },
            hasExtractedLicensingInfos: extracted.isEmpty ? nil : extracted, relationships: relationships)
    }

    /// `SPDXRef-Package-deb-libc6-2.36-9-amd64`: what identifies the package, in id characters.
    static func packageIDBase(_ package: SBOMPackage) -> String {
        var parts = [package.ecosystem.rawValue, package.name, package.version]
        if let architecture = package.architecture { parts.append(architecture) }
        return "SPDXRef-Package-" + idString(parts.joined(separator: "-"))
    }

    /// `SPDXRef-File-<name>-<16 hex of the path's SHA-256>`: unique per path however long it is.
    static func fileID(_ path: String) -> String {
        let digest = RootFileSystem.hex(SHA256.hash(data: Array(path.utf8)))
        let base = path.split(separator: "/").last.map(String.init) ?? "root"
        return "SPDXRef-File-" + idString(String(base.prefix(48))) + "-" + digest.prefix(16)
    }

    /// Characters an SPDX id may not hold become `-` (ids are `SPDXRef-[letters, digits, . and -]`).
    static func idString(_ text: String) -> String {
        String(text.map { SPDXLicenseList.isIDCharacter($0) ? $0 : "-" })
    }

    /// `base`, or `base-2`, `base-3`, ... when names that differ only in other characters collide.
    private static func uniqueID(_ base: String, _ used: inout Set<String>) -> String {
        var candidate = base
        var number = 2
        while used.contains(candidate) {
            candidate = "\(base)-\(number)"
            number += 1
        }
        used.insert(candidate)
        return candidate
    }

    /// SPDX 2.3 clause 7.9: the SHA-1 of the files' SHA-1s sorted and concatenated.
    static func verificationCode(_ files: [SBOMFile]) -> String {
        RootFileSystem.hex(Insecure.SHA1.hash(data: Array(files.map(\.sha1).sorted().joined().utf8)))
    }

    /// `Name <mail>` as SPDX's agent syntax, `Person: Name (mail)`; nil for nothing. Whether a maintainer
    /// is a person or a team is not recorded anywhere, so all are persons, as other scanners do.
    static func agent(_ text: String?) -> String? {
        guard let text = text?.replacingOccurrences(of: "\n", with: " ").trimmingWhitespace(), !text.isEmpty else { return nil }
        if let open = text.firstIndex(of: "<"), let close = text.lastIndex(of: ">"), open < close {
            let name = text[..<open].trimmingCharacters(in: .whitespaces)
            let mail = text[text.index(after: open)..<close].trimmingCharacters(in: .whitespaces)
            return "Person: \(name.isEmpty ? mail : name) (\(mail))"
        }
        return "Person: \(text)"
    }

    /// `YYYY-MM-DDThh:mm:ssZ` in UTC, as SPDX's `created` wants (no fractions, no locale).
    static func timestamp(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
