import Foundation
import Testing
import ImgOCI

/// The cache config: BuildKit's JSON shape (a cache BuildKit wrote decodes) with img's fields.
@Suite struct CacheConfigTests {
    static let a = "sha256:" + String(repeating: "a", count: 64)
    static let b = "sha256:" + String(repeating: "b", count: 64)
    static let c = "sha256:" + String(repeating: "c", count: 64)

    @Test func decodesBuildKitsShapeWhereAZeroParentIsLeftOut() throws {
        // As BuildKit writes it: `parent` 0 omitted (omitempty), results under "layers", no img fields.
        let json = """
            {"layers":[{"blob":"\(Self.a)","parent":-1},{"blob":"\(Self.b)"}],
             "records":[{"digest":"\(Self.c)","layers":[{"layer":1,"createdAt":"2024-01-01T00:00:00Z"}]},
                        {"digest":"\(Self.a)","inputs":[[{"selector":"","link":0}]]}]}
            """
        let config = try JSONDecoder().decode(CacheConfig.self, from: Data(json.utf8))
        #expect(config.keyVersion == nil, "not img's: the importer refuses it by version")
        #expect(config.layers[1].parent == 0)
        #expect(config.records[0].results == [CacheConfig.Result(layer: 1, createdAt: "2024-01-01T00:00:00Z")])
        #expect(config.records[1].inputs == [[CacheConfig.Input(selector: "", link: 0)]])
        #expect(config.chain(top: 1) == [try Digest(parsing: Self.a), try Digest(parsing: Self.b)])
    }

    @Test func roundTripsImgsFieldsUnderTheirOwnNames() throws {
        let config = CacheConfig(
            layers: [.init(blob: try Digest(parsing: Self.a), parent: -1)],
            records: [.init(digest: try Digest(parsing: Self.b), results: [.init(layer: 0, createdAt: nil)],
                            config: try Digest(parsing: Self.c))])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let text = String(decoding: try encoder.encode(config), as: UTF8.self)
        #expect(text.contains("\"img.keyVersion\":\(CacheConfig.currentKeyVersion)"))
        #expect(text.contains("\"img.config\":\"\(Self.c)\""))
        #expect(text.contains("\"layers\":[{\"layer\":0}]"), "BuildKit's name for a record's results: \(text)")
        #expect(try JSONDecoder().decode(CacheConfig.self, from: Data(text.utf8)) == config)
    }

    @Test func embeddedConfigsTravelAsBase64AndOnlyMatchingBytesAreUsed() throws {
        let bytes = Data(#"{"architecture":"amd64","os":"linux"}"#.utf8)
        let digest = Digest.sha256(of: bytes)
        let wrong = try Digest(parsing: Self.a)
        let config = CacheConfig(layers: [], records: [], embeddedConfigs: [digest: bytes, wrong: bytes])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let text = String(decoding: try encoder.encode(config), as: UTF8.self)
        #expect(text.contains("\"img.configs\":{\"\(digest)\":\"\(bytes.base64EncodedString())\""), "\(text)")
        let decoded = try JSONDecoder().decode(CacheConfig.self, from: Data(text.utf8))
        #expect(decoded == config)
        #expect(decoded.embeddedConfig(digest) == bytes)
        #expect(decoded.embeddedConfig(wrong) == nil, "bytes under another digest are not used")
        #expect(decoded.embeddedConfig(try Digest(parsing: Self.b)) == nil)

        // An entry that is not a digest with base64 is left out, not a broken cache; none at all is not written.
        let odd = #"{"img.keyVersion":1,"layers":[],"records":[],"img.configs":{"nonsense":"AA==","\#(digest)":"not base64!"}}"#
        #expect(try JSONDecoder().decode(CacheConfig.self, from: Data(odd.utf8)).embeddedConfigs.isEmpty)
        let plain = String(decoding: try encoder.encode(CacheConfig(layers: [], records: [])), as: UTF8.self)
        #expect(!plain.contains("img.configs"))
    }

    @Test func aChainThatLoopsOrLeavesTheLayersIsNil() throws {
        let digest = try Digest(parsing: Self.a)
        let loop = CacheConfig(layers: [.init(blob: digest, parent: 1), .init(blob: digest, parent: 0)], records: [])
        #expect(loop.chain(top: 0) == nil)
        let outside = CacheConfig(layers: [.init(blob: digest, parent: 5)], records: [])
        #expect(outside.chain(top: 0) == nil)
        #expect(outside.chain(top: -1) == [])
    }
}
