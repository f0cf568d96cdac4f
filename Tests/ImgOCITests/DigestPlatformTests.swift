import Foundation
import ImgOCI
import Testing

@Suite struct DigestTests {
    @Test func sha256OfKnownBytes() {
        #expect(Digest.sha256(of: Array("".utf8)).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var h = DigestHasher()
        h.update(Array("hello ".utf8))
        h.update(Array("world".utf8))
        #expect(h.finalize() == Digest.sha256(of: Array("hello world".utf8)))
        #expect(h.finalize().short == "b94d27b9934d")
    }

    @Test(arguments: ["sha256:abc", "sha256:" + String(repeating: "A", count: 64), "sha1:" + String(repeating: "a", count: 40),
                      "nocolon", "sha256:" + String(repeating: "a", count: 63) + "/", "sha512:" + String(repeating: "a", count: 64)])
    func rejectsBadDigests(_ text: String) {
        #expect(throws: OCIError.self) { try Digest(parsing: text) }
    }

    @Test func codableRoundTrip() throws {
        let d = Digest.sha256(of: [1, 2, 3])
        let data = try JSONEncoder().encode([d])
        #expect(try JSONDecoder().decode([Digest].self, from: data) == [d])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([Digest].self, from: Data(#"["sha256:zz"]"#.utf8)) }
    }
}

@Suite struct PlatformTests {
    @Test(arguments: [
        ("linux/amd64", "linux/amd64"), ("linux/x86_64", "linux/amd64"), ("linux/aarch64", "linux/arm64"),
        ("linux/arm64/v8", "linux/arm64"), ("linux/arm", "linux/arm/v7"), ("linux/armhf", "linux/arm/v7"),
        ("linux/arm/6", "linux/arm/v6"), ("Linux/AMD64", "linux/amd64"), ("arm64", "linux/arm64"),
        ("linux/i686", "linux/386"), ("linux/riscv64", "linux/riscv64"), ("windows/amd64", "windows/amd64"),
    ])
    func normalises(input: String, expected: String) throws {
        #expect(try Platform(parsing: input).description == expected)
    }

    @Test(arguments: ["", "linux/", "/amd64", "linux/amd64/v1/x", "linux/am d64"])
    func rejects(_ input: String) {
        #expect(throws: OCIError.self) { try Platform(parsing: input) }
    }

    @Test func indexSelectsPlatform() throws {
        func desc(_ p: String, _ byte: UInt8) throws -> Descriptor {
            Descriptor(mediaType: .ociManifest, digest: .sha256(of: [byte]), size: 1, platform: try Platform(parsing: p))
        }
        let index = Index(manifests: [try desc("linux/amd64", 1), try desc("linux/arm/v6", 2), try desc("linux/arm64/v8", 3)])
        #expect(index.manifest(for: try Platform(parsing: "linux/arm64"))?.digest == .sha256(of: [3]))
        #expect(index.manifest(for: try Platform(parsing: "linux/amd64"))?.digest == .sha256(of: [1]))
        #expect(index.manifest(for: try Platform(parsing: "linux/arm/v7")) == nil)
        #expect(index.manifest(for: try Platform(parsing: "linux/s390x")) == nil)
    }

    @Test func configJSONUsesSpecKeys() throws {
        var cc = ContainerConfig()
        cc.env = ["PATH=/bin"]
        cc.exposedPorts = ["80/tcp": EmptyObject()]
        let config = ImageConfig(platform: try Platform(parsing: "linux/arm64"), config: cc,
                                 rootfs: RootFS(diffIDs: [.sha256(of: [0])]),
                                 history: [History(createdBy: "RUN x", emptyLayer: true)])
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(config), as: UTF8.self)
        #expect(json.contains(#""diff_ids":["sha256:"#))
        #expect(json.contains(#""ExposedPorts":{"80\/tcp":{}}"#))
        #expect(json.contains(#""empty_layer":true"#))
        #expect(json.contains(#""architecture":"arm64""#))
        #expect(try JSONDecoder().decode(ImageConfig.self, from: Data(json.utf8)) == config)
    }
}
