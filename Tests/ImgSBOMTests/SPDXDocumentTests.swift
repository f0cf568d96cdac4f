import Foundation
@testable import ImgSBOM
import ImgSystem
import ImgTestSupport
import Testing

@Suite struct SPDXDocumentTests {
    static let created = Date(timeIntervalSince1970: 1_700_000_000)

    static func packages() -> [SBOMPackage] {
        let debian = Distribution(id: "debian", versionID: "12")
        let file = SBOMFile(path: "/usr/bin/tool", sha1: String(repeating: "a", count: 40), sha256: String(repeating: "b", count: 64))
        let shared = SBOMFile(path: "/usr/lib/shared", sha1: String(repeating: "c", count: 40), sha256: String(repeating: "d", count: 64))
        return [
            SBOMPackage(ecosystem: .pypi, name: "attrs", version: "23.2.0", supplier: "Hynek <hs@ox.cx>",
                        originator: "Hynek Schlawack", license: "MIT", files: [shared]),
            SBOMPackage(ecosystem: .deb, name: "tool", version: "1:2.5-3", architecture: "amd64",
                        supplier: "Tool Team <tool@example.org>", license: "GPL-2+ or public-domain",
                        sourcePackage: "tool-src", distribution: debian, files: [file, shared]),
            SBOMPackage(ecosystem: .deb, name: "libc6", version: "2.36-9", architecture: "i386",
                        license: "see /usr/share/common-licenses", distribution: debian),
            SBOMPackage(ecosystem: .deb, name: "libc6", version: "2.36-9", architecture: "amd64", distribution: debian),
            SBOMPackage(ecosystem: .apk, name: "a+b", version: "1", license: "LicenseRef-Custom AND MIT"),
            SBOMPackage(ecosystem: .apk, name: "a_b", version: "1"),
        ]
    }

    static func document(_ packages: [SBOMPackage] = packages()) -> SPDXDocument {
        SPDXDocument.make(packages: packages, name: "example.org/app:1", namespace: "https://img.example/spdx/app-1",
                          created: created, toolVersion: "1.2.3")
    }

    static func json(_ document: SPDXDocument) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: document.jsonData()) as? [String: Any])
    }

    @Test func documentFields() throws {
        let json = try Self.json(Self.document())
        #expect(json["spdxVersion"] as? String == "SPDX-2.3")
        #expect(json["dataLicense"] as? String == "CC0-1.0")
        #expect(json["SPDXID"] as? String == "SPDXRef-DOCUMENT")
        #expect(json["name"] as? String == "example.org/app:1")
        #expect(json["documentNamespace"] as? String == "https://img.example/spdx/app-1")
        let creation = try #require(json["creationInfo"] as? [String: Any])
        #expect(creation["created"] as? String == "2023-11-14T22:13:20Z")
        #expect(creation["creators"] as? [String] == ["Tool: img-1.2.3"])
        #expect(json["documentDescribes"] as? [String] == [SPDXDocument.rootID])
    }

    @Test func packagesTheirIdsLicencesAndPurls() throws {
        let json = try Self.json(Self.document())
        let packages = try #require(json["packages"] as? [[String: Any]])
        let ids = packages.compactMap { $0["SPDXID"] as? String }
        #expect(ids == [
            "SPDXRef-RootFilesystem", "SPDXRef-Package-apk-a-b-1", "SPDXRef-Package-apk-a-b-1-2",
            "SPDXRef-Package-deb-libc6-2.36-9-amd64", "SPDXRef-Package-deb-libc6-2.36-9-i386",
            "SPDXRef-Package-deb-tool-1-2.5-3-amd64", "SPDXRef-Package-pypi-attrs-23.2.0",
        ])
        for package in packages {
            #expect(package["downloadLocation"] as? String == "NOASSERTION")
            #expect(package["licenseConcluded"] as? String == "NOASSERTION")
        }
        let tool = try #require(packages.first { $0["name"] as? String == "tool" })
        #expect(tool["versionInfo"] as? String == "1:2.5-3")
        #expect(tool["supplier"] as? String == "Person: Tool Team (tool@example.org)")
        #expect(tool["licenseDeclared"] as? String == "GPL-2.0-or-later OR LicenseRef-public-domain")
        #expect(tool["filesAnalyzed"] as? Bool == true)
        #expect(tool["sourceInfo"] as? String == "built from source package tool-src")
        let refs = try #require(tool["externalRefs"] as? [[String: String]])
        #expect(refs == [["referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                          "referenceLocator": "pkg:deb/debian/tool@1:2.5-3?arch=amd64&distro=debian-12"]])
        // Clause 7.9: SHA-1 over the sorted SHA-1s of the package's files.
        let code = (tool["packageVerificationCode"] as? [String: String])?["packageVerificationCodeValue"]
        let concatenated = String(repeating: "a", count: 40) + String(repeating: "c", count: 40)
        let scratch = try TemporaryDirectory("img-sbom-code")
        try scratch.write("sums", concatenated)
        let sha1 = try runTool(Prerequisite.sha1sum.require(), [scratch["sums"]])
        #expect(code == String(sha1.prefix(40)))
        let libc = try #require(packages.first { $0["SPDXID"] as? String == "SPDXRef-Package-deb-libc6-2.36-9-i386" })
        #expect(libc["licenseDeclared"] as? String == "NOASSERTION")
        #expect(libc["filesAnalyzed"] as? Bool == false)
        #expect(libc["packageVerificationCode"] == nil)
        let attrs = try #require(packages.first { $0["name"] as? String == "attrs" })
        #expect(attrs["originator"] as? String == "Person: Hynek Schlawack")
        #expect((attrs["externalRefs"] as? [[String: String]])?.first?["referenceLocator"] == "pkg:pypi/attrs@23.2.0")
        let extracted = try #require(json["hasExtractedLicensingInfos"] as? [[String: String]])
        #expect(extracted.map { $0["licenseId"] } == ["LicenseRef-Custom", "LicenseRef-public-domain"])
    }

    @Test func filesOnceEachAndRelationshipsToKnownElements() throws {
        let json = try Self.json(Self.document())
        let files = try #require(json["files"] as? [[String: Any]])
        #expect(files.compactMap { $0["fileName"] as? String } == ["/usr/bin/tool", "/usr/lib/shared"])
        let checksums = try #require(files.first?["checksums"] as? [[String: String]])
        #expect(checksums == [["algorithm": "SHA1", "checksumValue": String(repeating: "a", count: 40)],
                              ["algorithm": "SHA256", "checksumValue": String(repeating: "b", count: 64)]])
        let packageIDs = (json["packages"] as? [[String: Any]] ?? []).compactMap { $0["SPDXID"] as? String }
        let fileIDs = files.compactMap { $0["SPDXID"] as? String }
        let known = Set(packageIDs + fileIDs + ["SPDXRef-DOCUMENT"])
        #expect(known.count == packageIDs.count + fileIDs.count + 1, "ids are unique")
        let relationships = try #require(json["relationships"] as? [[String: String]])
        for relationship in relationships {
            #expect(known.contains(relationship["spdxElementId"] ?? ""))
            #expect(known.contains(relationship["relatedSpdxElement"] ?? ""))
        }
        #expect(relationships.first == ["spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                                        "relatedSpdxElement": SPDXDocument.rootID])
        let contains = relationships.filter { $0["relationshipType"] == "CONTAINS" }
        #expect(contains.filter { $0["spdxElementId"] == SPDXDocument.rootID }.count == 6)
        // The shared file is in both packages that list it.
        let shared = try #require(files.first { $0["fileName"] as? String == "/usr/lib/shared" }?["SPDXID"] as? String)
        #expect(Set(contains.filter { $0["relatedSpdxElement"] == shared }.compactMap { $0["spdxElementId"] }) ==
                ["SPDXRef-Package-deb-tool-1-2.5-3-amd64", "SPDXRef-Package-pypi-attrs-23.2.0"])
    }

    @Test func sameInputSameBytes() throws {
        let first = try Self.document().jsonData()
        let second = try Self.document(Self.packages().reversed()).jsonData()
        #expect(first == second)
    }

    @Test func licenceExpressions() {
        #expect(SPDXLicense("mit")?.expression == "MIT")
        #expect(SPDXLicense("GPL-2.0+")?.expression == "GPL-2.0-or-later")
        #expect(SPDXLicense("Apache-2.0+")?.expression == "Apache-2.0+")
        #expect(SPDXLicense("(MIT OR Apache-2.0) AND BSD-3-Clause")?.expression == "(MIT OR Apache-2.0) AND BSD-3-Clause")
        #expect(SPDXLicense("GPL-2+ with OpenSSL-exception")?.expression == "GPL-2.0-or-later WITH OpenSSL-exception")
        #expect(SPDXLicense("GPL-2+ with OpenSSL exception") == nil)
        #expect(SPDXLicense("MIT AND") == nil)
        #expect(SPDXLicense("(MIT") == nil)
        #expect(SPDXLicense("") == nil)
        #expect(SPDXLicense(String(repeating: "(", count: 100) + "MIT" + String(repeating: ")", count: 100)) == nil)
        #expect(SPDXLicense("((MIT))")?.expression == "MIT")
        let custom = SPDXLicense("Custom_Licence/1 OR MIT")
        #expect(custom?.expression == "LicenseRef-Custom-Licence-1 OR MIT")
        #expect(custom?.references == ["LicenseRef-Custom-Licence-1": "Custom_Licence/1"])
    }

    @Test(.needs(.python3, .jsonschema))
    func validatesAgainstTheSchemaSubset() throws {
        let empty = SPDXDocument.make(packages: [], name: "empty", namespace: "https://img.example/spdx/empty",
                                      created: Self.created, toolVersion: "dev")
        let good = try SPDXSchema.validate([try Self.document().jsonData(), try empty.jsonData()])
        #expect(good.status.isSuccess, "\(good.output)")

        // The validator does reject: a file without its SHA-1 and a package id with a slash.
        var broken = Self.document()
        broken.files[0].checksums.removeFirst()
        broken.packages[1].spdxID = "SPDXRef-a/b"
        let bad = try SPDXSchema.validate([try broken.jsonData()])
        #expect(bad.status == .exited(1))
        #expect(bad.output.contains("checksums"))
        #expect(bad.output.contains("SPDXRef-a/b"))
    }
}
