import Foundation
import ImgOCI
import Testing
import ImgTestSupport

/// The manifests, indexes and configs img writes (its ImgOCI types, encoded as the stores encode them)
/// validate against the OCI image-spec JSON Schemas in `oci-image-spec-schema`, checked by an independent
/// validator: Debian's python3-jsonschema (draft-04).
@Suite(.needs(.conformanceData, .python3, .jsonschema)) struct OCISchemaTests {
    static let validator = """
        import json, os, sys
        from jsonschema import Draft4Validator, RefResolver
        schemas, schema_name = sys.argv[1], sys.argv[2]
        def load(name):
            with open(os.path.join(schemas, name)) as f:
                return json.load(f)
        # Every $ref names a sibling file; the schemas' https ids must never reach the network.
        def local(uri):
            return load(uri.split("#")[0].rsplit("/", 1)[-1])
        schema = load(schema_name)
        resolver = RefResolver(base_uri="https://opencontainers.org/schema/image/" + schema_name, referrer=schema,
                               handlers={"https": local, "http": local})
        failed = 0
        for path in sys.argv[3:]:
            with open(path) as f:
                doc = json.load(f)
            errors = sorted(Draft4Validator(schema, resolver=resolver).iter_errors(doc), key=str)
            for e in errors:
                print(f"{os.path.basename(path)}: {'/'.join(map(str, e.path))}: {e.message}")
            failed += bool(errors)
        sys.exit(1 if failed else 0)
        """

    static let python = "/usr/bin/python3"

    static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    /// Runs the validator over `documents` against `schema`; returns its exit status and output.
    static func validate(_ schema: String, _ documents: [Data]) throws -> (Int32, String) {
        let temporary = try TemporaryDirectory("img-schema")
        defer { temporary.remove() }
        let dir = temporary.url
        var paths: [String] = []
        for (i, doc) in documents.enumerated() {
            let url = dir.appending(path: "doc\(i).json")
            try doc.write(to: url)
            paths.append(url.path)
        }
        let process = Process()
        process.executableURL = URL(filePath: python)
        process.arguments = ["-c", validator, try ConformanceData.directory("oci-image-spec-schema").path, schema] + paths
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func layer(_ byte: UInt8, _ type: MediaType = .ociLayerGzip) -> Descriptor {
        Descriptor(mediaType: type, digest: .sha256(of: [byte]), size: 1000 + Int64(byte))
    }

    @Test func manifestsIndexesAndConfigsValidate() throws {
        try Prerequisite.require(.conformanceData, .python3, .jsonschema)
        let config = Descriptor(mediaType: .ociConfig, digest: .sha256(of: [0]), size: 321)
        let manifests = [
            Manifest(config: config, layers: [Self.layer(1), Self.layer(2, .ociLayerZstd), Self.layer(3, .ociLayer)]),
            // This schema version wants at least one layer (minItems 1).
            Manifest(config: config, layers: [Self.layer(4)], annotations: ["org.opencontainers.image.title": "one"]),
        ]
        let amd64 = try Platform(parsing: "linux/amd64"), arm = try Platform(parsing: "linux/arm/v7")
        let index = Index(manifests: [
            Descriptor(mediaType: .ociManifest, digest: .sha256(of: [7]), size: 500, platform: amd64),
            Descriptor(mediaType: .ociManifest, digest: .sha256(of: [8]), size: 501,
                       annotations: ["org.opencontainers.image.ref.name": "v1"], platform: arm),
        ])
        var cc = ContainerConfig()
        cc.env = ["PATH=/usr/bin:/bin"]
        cc.cmd = ["sh"]
        cc.entrypoint = ["/bin/entry"]
        cc.workingDir = "/srv"
        cc.user = "1000:1000"
        cc.exposedPorts = ["80/tcp": EmptyObject()]
        cc.volumes = ["/data": EmptyObject()]
        cc.labels = ["a": "b"]
        cc.stopSignal = "SIGTERM"
        let imageConfig = ImageConfig(
            platform: arm, config: cc, rootfs: RootFS(diffIDs: [.sha256(of: [1]), .sha256(of: [2])]),
            history: [History(created: "2026-11-26T00:00:00Z", createdBy: "COPY x /", comment: "buildkit.dockerfile.v0"),
                      History(createdBy: "ENV A=b", emptyLayer: true)],
            created: "2026-11-26T00:00:00Z")

        var results: [(String, Int32, String)] = []
        let (m, mOut) = try Self.validate("image-manifest-schema.json", try manifests.map(Self.encode))
        results.append(("manifest", m, mOut))
        let (i, iOut) = try Self.validate("image-index-schema.json", [try Self.encode(index)])
        results.append(("index", i, iOut))
        let (c, cOut) = try Self.validate("config-schema.json", [try Self.encode(imageConfig)])
        results.append(("config", c, cOut))
        for (what, status, output) in results { #expect(status == 0, "\(what) does not validate: \(output)") }
        ConformanceData.report("oci-schema", passed: results.filter { $0.1 == 0 }.count, total: results.count)
    }

    /// The validator really rejects what the schemas forbid, so a pass above means something.
    @Test func validatorRejectsBrokenDocuments() throws {
        try Prerequisite.require(.conformanceData, .python3, .jsonschema)
        let badDigest = #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"no digest here","size":1},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:00","size":2}]}"#
        let (status, output) = try Self.validate("image-manifest-schema.json", [Data(badDigest.utf8)])
        #expect(status == 1)
        #expect(output.contains("digest"))
        let noArch = #"{"os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
        #expect(try Self.validate("config-schema.json", [Data(noArch.utf8)]).0 == 1)
    }
}
