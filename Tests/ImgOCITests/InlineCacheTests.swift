import Foundation
import Testing
import ImgOCI

/// The inline cache in an image config: BuildKit's encoding (a base64 string of a JSON array of records
/// under `moby.buildkit.cache.v0`), img's fields beside BuildKit's, and a config without one unchanged.
@Suite struct InlineCacheTests {
    static let a = "sha256:" + String(repeating: "a", count: 64)
    static let b = "sha256:" + String(repeating: "b", count: 64)
    static let c = "sha256:" + String(repeating: "c", count: 64)

    static func encoded(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    static var image: ImageConfig {
        var config = ImageConfig(platform: Platform(os: "linux", architecture: "amd64"),
                                 rootfs: RootFS(diffIDs: [try! Digest(parsing: a), try! Digest(parsing: b)]),
                                 history: [History(createdBy: "COPY a /a"), History(createdBy: "ENV X=1", emptyLayer: true),
                                           History(createdBy: "COPY b /b")],
                                 created: "2026-01-01T00:00:00Z")
        config.config = ContainerConfig()
        config.config?.env = ["X=1"]
        return config
    }

    @Test func aConfigWithoutACacheEncodesAsBefore() throws {
        #expect(try Self.encoded(InlineCachedConfig(Self.image, cache: nil)) == (try Self.encoded(Self.image)))
        #expect(try InlineCache.records(inConfig: try Self.encoded(Self.image)) == nil)
    }

    @Test func theCacheIsABase64StringOfTheRecordsBesideTheConfigsFields() throws {
        let record = InlineCache.Record(digest: try Digest(parsing: Self.c), results: [.init(layer: 1, createdAt: "2026-01-01T00:00:00Z")],
                                        inputs: [[.init(link: 0)]], config: try Digest(parsing: Self.a), image: nil, history: 3)
        let document = try InlineCache.document([record])
        let bytes = try Self.encoded(InlineCachedConfig(Self.image, cache: document))
        let object = try JSONSerialization.jsonObject(with: bytes) as? [String: Any]
        #expect(object?["architecture"] as? String == "amd64", "the config's own fields stay at the top")
        let text = try #require(object?["moby.buildkit.cache.v0"] as? String)
        let records = try JSONSerialization.jsonObject(with: try #require(Data(base64Encoded: text))) as? [[String: Any]]
        #expect(records?.count == 1)
        #expect((records?[0]["layers"] as? [[String: Any]])?[0]["layer"] as? Int == 1, "BuildKit's name for the results")
        #expect(records?[0]["img.keyVersion"] as? Int == CacheConfig.currentKeyVersion)
        // Read back, and still the same image config for a reader that knows nothing of the cache.
        #expect(try InlineCache.records(inConfig: bytes) == [record])
        #expect(try JSONDecoder().decode(ImageConfig.self, from: bytes) == Self.image)
    }

    @Test func recordsBuildKitWroteDecodeWithoutImgsKeys() throws {
        let records = "[{\"digest\":\"\(Self.c)\",\"layers\":[{\"layer\":0,\"createdAt\":\"2024-01-01T00:00:00Z\"}]},{\"digest\":\"\(Self.a)\",\"inputs\":[[{\"selector\":\"\",\"link\":0}]]}]"
        let config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"moby.buildkit.cache.v0\":\"\(Data(records.utf8).base64EncodedString())\"}"
        let decoded = try #require(try InlineCache.records(inConfig: Data(config.utf8)))
        #expect(decoded.count == 2 && decoded.allSatisfy { $0.keyVersion == nil && $0.image == nil })
        #expect(decoded[1].inputs == [[CacheConfig.Input(selector: "", link: 0)]])
    }

    @Test func aStepsConfigIsRebuiltFromTheImagesLayersAndHistory() throws {
        var own = Self.image
        own.rootfs.diffIDs = []
        own.history = nil
        own.config?.env = nil
        let record = InlineCache.Record(digest: try Digest(parsing: Self.c), results: [.init(layer: 0, createdAt: nil)],
                                        config: nil, image: own, history: 1)
        let step = try #require(record.stepConfig(in: Self.image))
        #expect(step.rootfs.diffIDs == [try Digest(parsing: Self.a)])
        #expect(step.history == [History(createdBy: "COPY a /a")])
        #expect(step.config?.env == nil)
        // A record that reaches past the image's layers or history says nothing.
        var past = record
        past.results = [.init(layer: 2, createdAt: nil)]
        #expect(past.stepConfig(in: Self.image) == nil)
        past = record
        past.history = 4
        #expect(past.stepConfig(in: Self.image) == nil)
    }
}
