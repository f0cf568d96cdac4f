import Foundation
import Testing
import ImgTestSupport

/// `--sbom` through the real binary on a debootstrapped Debian base (the one the in-container tests make):
/// the SPDX document attached to the image lists the packages with the versions dpkg-query prints in it.
extension Prerequisite {
    static let sbomDebootstrap = executable("/usr/sbin/debootstrap", package: "debootstrap")
    static let sbomJSONSchema = pythonModule("jsonschema", package: "python3-jsonschema")
}

@Suite(.needs(.runc, .sbomDebootstrap, .python3, .sbomJSONSchema)) struct BuildSBOMTests {

    /// The attached statements `img inspect` shows, by predicate type.
    static func statements(_ f: BuildFixture, _ image: String) throws -> [(type: String, statement: [String: Any])] {
        let inspected = try f.img(["inspect", image])
        guard inspected.status == 0,
              let json = try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as? [String: Any]
        else { throw BuildFixtureError("img inspect \(image): \(inspected.stderr)") }
        return (json["attestations"] as? [[String: Any]] ?? []).map {
            ($0["predicateType"] as? String ?? "", $0["statement"] as? [String: Any] ?? [:])
        }
    }

    @Test func debianImageSBOMListsDpkgPackagesWithTheirVersions() throws {
        try Prerequisite.require(.runc, .sbomDebootstrap, .python3, .sbomJSONSchema)
        try InContainerEnvironment.ensureBase()
        let f = try BuildFixture()
        let base = try f.build(["-t", "debian:bookworm-slim"], contextPath: InContainerEnvironment.cache + "/base-context")
        try #require(base.status == 0, "\(base.stderr)")
        try f.write("Dockerfile", """
            FROM debian:bookworm-slim AS tools
            ARG BUILDKIT_SBOM_SCAN_STAGE=true
            RUN mkdir -p /opt/tool && echo tool > /opt/tool/README
            FROM debian:bookworm-slim
            RUN dpkg-query -W -f '${Package} ${Version}\\n' dpkg libc6 base-files > /versions
            COPY --from=tools /opt/tool /opt/tool

            """)
        let built = try f.build(["-t", "debian-sbom", "--sbom=true", "--provenance=false"])
        try #require(built.status == 0, "\(built.stderr)")
        let rootfs = try f.unpack("debian-sbom")
        var expected: [String: String] = [:]
        for line in try String(contentsOf: rootfs.appending(path: "versions"), encoding: .utf8).split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { expected[String(parts[0])] = String(parts[1]) }
        }
        try #require(Set(expected.keys) == ["dpkg", "libc6", "base-files"], "\(expected)")

        // The image's SBOM and the scanned stage's, both SPDX 2.3 in in-toto statements about the manifest.
        let statements = try Self.statements(f, "debian-sbom")
        #expect(statements.map(\.type) == ["https://spdx.dev/Document", "https://spdx.dev/Document"], "\(statements.map(\.type))")
        let inspected = try JSONSerialization.jsonObject(with: Data(try f.img(["inspect", "debian-sbom"]).stdout.utf8)) as? [String: Any]
        let manifestDigest = ((inspected?["index"] as? [String: Any])?["manifests"] as? [[String: Any]])?.first?["digest"] as? String
        for (_, statement) in statements {
            let subject = (statement["subject"] as? [[String: Any]])?.first?["digest"] as? [String: String]
            #expect(subject?["sha256"].map { "sha256:" + $0 } == manifestDigest)
            let document = try JSONSerialization.data(withJSONObject: statement)
            #expect(try AttestationSchemas.errors(document, schema: AttestationSchemas.inTotoStatementV1) == "")
        }
        let document = try #require(statements.first?.statement["predicate"] as? [String: Any])
        #expect(document["spdxVersion"] as? String == "SPDX-2.3")
        let packages = document["packages"] as? [[String: Any]] ?? []
        for (name, version) in expected {
            let found = packages.filter { $0["name"] as? String == name }
            #expect(found.count == 1 && found.first?["versionInfo"] as? String == version, "\(name): \(found)")
            let purl = (found.first?["externalRefs"] as? [[String: Any]])?.first { $0["referenceType"] as? String == "purl" }
            #expect((purl?["referenceLocator"] as? String)?.hasPrefix("pkg:deb/debian/\(name)@") == true, "\(String(describing: purl))")
        }
        // Files with their checksums: libc6 owns its loader, as the image's own file says.
        let files = document["files"] as? [[String: Any]] ?? []
        let loader = files.first { ($0["fileName"] as? String)?.hasSuffix("ld-linux-x86-64.so.2") == true }
        let sha1 = (loader?["checksums"] as? [[String: Any]])?.first { $0["algorithm"] as? String == "SHA1" }?["checksumValue"] as? String
        #expect(sha1?.count == 40, "\(String(describing: loader))")
        // The stage's document says which stage it is; nothing names a host path.
        #expect((statements.last?.statement["predicate"] as? [String: Any])?["name"] as? String == "_ (stage tools)"
                || ((statements.last?.statement["predicate"] as? [String: Any])?["name"] as? String)?.contains("stage tools") == true)
        let text = String(decoding: try JSONSerialization.data(withJSONObject: statements.map(\.statement)), as: UTF8.self)
        #expect(!text.contains(f.dir.path) && !text.contains(f.state), "no host path in the SBOM")

        // The same build again: the same documents (created is the image's own time, ids come from names).
        let again = try f.build(["-t", "debian-sbom", "--sbom=true", "--provenance=false"])
        try #require(again.status == 0, "\(again.stderr)")
        func canonical(_ list: [(type: String, statement: [String: Any])]) throws -> [String] {
            try list.map { String(decoding: try JSONSerialization.data(withJSONObject: $0.statement, options: .sortedKeys), as: UTF8.self) }
        }
        #expect(try canonical(Self.statements(f, "debian-sbom")) == canonical(statements))
    }
}
