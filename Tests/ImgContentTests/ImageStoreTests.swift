import Foundation
import ImgTestSupport
@testable import ImgContent
import ImgOCI
import Testing

@Suite struct ImageStoreTests {
    let tmp = TempDirectory()

    func manifest(_ seed: String) -> Descriptor {
        var d = descriptor(of: bytes(seed), .ociManifest)
        d.platform = Platform(os: "linux", architecture: "arm64")
        return d
    }

    @Test func putGetAndRetagKeepsCreated() async throws {
        let images = try tmp.state().images
        let name = reference("busybox")
        let first = try await images.put(name, descriptor: manifest("one"))
        #expect(first.name.description == "docker.io/library/busybox:latest")
        #expect(first.created == first.updated)
        #expect(try await images.get(reference("docker.io/library/busybox:latest")) == first)

        try await Task.sleep(nanoseconds: 20_000_000)
        let second = try await images.put(name, descriptor: manifest("two"))
        #expect(second.created == first.created)
        #expect(second.updated > first.updated)
        #expect(second.descriptor == manifest("two"))
        #expect(second.descriptor.platform == Platform(os: "linux", architecture: "arm64"))
        #expect(try await images.list().count == 1)
    }

    @Test func missingImagesAreErrorsNamingTheReference() async throws {
        let images = try tmp.state().images
        #expect(try await images.find(reference("x")) == nil)
        let error = await expectContentError(.imageNotFound) { _ = try await images.get(reference("x")) }
        #expect(error?.description == "image not found: docker.io/library/x:latest")
        await expectContentError(.imageNotFound) { _ = try await images.remove(reference("x")) }
        await expectContentError(.imageNotFound) { _ = try await images.tag(reference("x"), as: reference("y")) }
    }

    @Test func removeReturnsWhatWasRemoved() async throws {
        let images = try tmp.state().images
        let a = try await images.put(reference("a"), descriptor: manifest("a"))
        let b = try await images.put(reference("b:1"), descriptor: manifest("b"))
        #expect(try await images.remove(reference("a:latest")) == a)
        // All or nothing: one missing name removes none.
        await expectContentError(.imageNotFound) { _ = try await images.remove([reference("b:1"), reference("a")]) }
        #expect(try await images.list() == [b])
        #expect(try await images.remove([reference("b:1")]) == [b])
        #expect(try await images.list().isEmpty)
    }

    @Test func tagAndRename() async throws {
        let images = try tmp.state().images
        let source = try await images.put(reference("src:1"), descriptor: manifest("src"))
        let tagged = try await images.tag(reference("src:1"), as: reference("localhost:5000/dst:2"))
        #expect(tagged.name.description == "localhost:5000/dst:2")
        #expect(tagged.descriptor == source.descriptor)
        #expect(try await images.list().count == 2)

        let renamed = try await images.rename(reference("src:1"), to: reference("moved"))
        #expect(renamed.descriptor == source.descriptor)
        #expect(try await images.find(reference("src:1")) == nil)
        #expect(Set(try await images.list().map(\.name.familiar)) == ["localhost:5000/dst:2", "moved:latest"])
    }

    @Test(arguments: [
        (ImageFilter.all, ["alpine:3.20", "alpine:latest", "busybox:latest", "quay.io/x/tool:v1"]),
        (.reference(reference("alpine")), ["alpine:latest"]),
        (.repository(reference("alpine:whatever")), ["alpine:3.20", "alpine:latest"]),
        (.pattern("alpine:3*"), ["alpine:3.20"]),
        (.pattern("quay.io/*"), ["quay.io/x/tool:v1"]),
        (.pattern("docker.io/library/*:latest"), ["alpine:latest", "busybox:latest"]),
        (.digest(descriptor(of: bytes("shared"), .ociManifest).digest), ["alpine:latest", "busybox:latest"]),
    ])
    func listFilters(filter: ImageFilter, expected: [String]) async throws {
        let images = try tmp.state().images
        let shared = descriptor(of: bytes("shared"), .ociManifest)
        try await images.put(reference("alpine"), descriptor: shared)
        try await images.put(reference("busybox"), descriptor: shared)
        try await images.put(reference("alpine:3.20"), descriptor: manifest("3.20"))
        try await images.put(reference("quay.io/x/tool:v1"), descriptor: manifest("tool"))
        #expect(try await images.list(filter).map(\.name.familiar) == expected)
    }

    @Test func schemaIsSharedAcrossInstances() async throws {
        let one = try tmp.state()
        let two = try tmp.state()
        try await one.images.put(reference("seen"), descriptor: manifest("m"))
        #expect(try await two.images.get(reference("seen")).descriptor == manifest("m"))
        #expect(try await two.databaseIntegrityCheck() == ["ok"])
    }

    @Test func cacheRecords() async throws {
        let cache = try tmp.state().cache
        let key = Digest.sha256(of: bytes("op definition"))
        let result = descriptor(of: bytes("layer"))
        let record = try await cache.put(key: key, result: result)
        #expect(record.result == result)
        try await Task.sleep(nanoseconds: 20_000_000)
        let used = try #require(try await cache.get(key))
        #expect(used.lastUsed > record.lastUsed)
        #expect(try await cache.list().map(\.key) == [key])
        #expect(try await cache.prune(unusedSince: record.lastUsed) == 0)
        #expect(try await cache.prune(unusedSince: Date().addingTimeInterval(1)) == 1)
        #expect(try await cache.get(key) == nil)
    }

    /// Opening img.db to read writes nothing (GRDB's pool wrote a dummy table at every opening, so every
    /// command, even `img ls`, paid four fsyncs), and closing it does not checkpoint the log: the log keeps
    /// the commits, and the next opening reads them back from it.
    @Test func readingTheStateWritesNothingAndTheLogOutlivesTheProcess() async throws {
        let db = tmp.path + "/state/img.db"
        func logSize() -> Int { (try? FileManager.default.attributesOfItem(atPath: db + "-wal"))?[.size] as? Int ?? 0 }
        do { _ = try await tmp.state().images.put(reference("kept"), descriptor: manifest("kept")) }
        // Closed: no descriptor of this process points at the database or its log any more.
        let open = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap {
            try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)
        }
        #expect(!open.contains { $0.hasPrefix(db) }, "\(open)")
        let written = logSize()
        #expect(written > 0, "the commit was checkpointed and the log removed at close")
        let state = try tmp.state()
        #expect(try await state.images.list().map(\.name.description) == ["docker.io/library/kept:latest"])
        #expect(logSize() == written, "reading wrote to the log")
        withExtendedLifetime(state) {}
    }
}
