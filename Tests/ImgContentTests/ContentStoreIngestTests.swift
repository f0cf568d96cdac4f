import Foundation
import ImgTestSupport
@testable import ImgContent
import ImgOCI
import ImgSystem
import Testing

@Suite struct ContentStoreIngestTests {
    @Test func ingestStoresVerifiedBlob() async throws {
        let tmp = TempDirectory()
        let content = try tmp.state().content
        let data = bytes("hello blob")
        let stored = try await content.ingest(data, mediaType: .ociConfig)
        #expect(stored == descriptor(of: data, .ociConfig))
        #expect(content.exists(stored.digest))
        #expect(try content.size(of: stored.digest) == Int64(data.count))
        #expect(try content.data(for: stored.digest) == data)
        #expect(try content.list().map(\.digest) == [stored.digest])
        #expect(content.path(for: stored.digest).hasSuffix("/content/blobs/sha256/\(stored.digest.hex)"))
        try content.verify(stored.digest)
        #expect(ingestFiles(try tmp.state()).isEmpty)
    }

    @Test func wrongDigestStoresNothing() async throws {
        let tmp = TempDirectory()
        let state = try tmp.state()
        let claimed = descriptor(of: bytes("what the registry promised"))
        let sent = Data(repeating: 0x41, count: Int(claimed.size))
        let error = await expectContentError(.digestMismatch) { try await state.content.ingest(sent, expected: claimed) }
        #expect(error?.description == "blob \(claimed.digest) does not match its digest (got \(Digest.sha256(of: sent)))")
        #expect(!state.content.exists(claimed.digest))
        #expect(!state.content.exists(.sha256(of: sent)))
        #expect(try state.content.list().isEmpty)
        #expect(ingestFiles(state).isEmpty)
    }

    /// Expected sizes that do not match the bytes: a longer stream fails on write and leaves nothing; a
    /// shorter one fails on commit and keeps its partial file for a resume.
    @Test(arguments: [(-3, false), (5, true)])
    func wrongSizeStoresNothing(sizeDelta: Int, keepsPartial: Bool) async throws {
        let tmp = TempDirectory()
        let state = try tmp.state()
        let data = bytes("twenty bytes exactly")
        var expected = descriptor(of: data)
        expected.size += Int64(sizeDelta)
        let writer = try await state.content.beginIngest(expected: expected)
        let error = await expectContentError(.sizeMismatch) {
            try writer.write(data)
            try await writer.commit()
        }
        #expect(error?.description.contains("blob \(expected.digest)") == true)
        #expect(!state.content.exists(expected.digest))
        #expect(try state.content.list().isEmpty)
        #expect(ingestFiles(state) == (keepsPartial ? ["sha256-\(expected.digest.hex)"] : []))
    }

    @Test func resumesAfterDroppedWriter() async throws {
        let tmp = TempDirectory()
        let content = try tmp.state().content
        var generator = ByteGenerator(seed: 7)
        let data = generator.next(3 * ContentStore.chunkSize + 12345)
        let expected = descriptor(of: data)
        let half = data.count / 2
        do {
            let writer = try await content.beginIngest(expected: expected)
            #expect(writer.offset == 0)
            try writer.write(data.prefix(half))
            // Dropped without commit, as when a download's connection breaks.
        }
        #expect(!content.exists(expected.digest))
        #expect(try content.list().isEmpty)
        let writer = try await content.beginIngest(expected: expected)
        #expect(writer.offset == Int64(half))
        #expect(!writer.isComplete)
        try writer.write(data.suffix(from: half))
        #expect(try await writer.commit() == expected)
        try content.verify(expected.digest)
        #expect(ingestFiles(try tmp.state()).isEmpty)
    }

    /// A partial file left by a process killed mid-download: never a blob; a later ingest resumes from it,
    /// or drops it when it cannot be a prefix of the blob.
    @Test(arguments: [("prefix", 500), ("garbage of full length", 0), ("longer than the blob", 0)])
    func leftoverPartialFromKilledProcess(kind: String, resumedAt: Int) async throws {
        let tmp = TempDirectory()
        let state = try tmp.state()
        var generator = ByteGenerator(seed: 99)
        let data = generator.next(1000)
        let expected = descriptor(of: data)
        let partial: Data = switch kind {
        case "prefix": data.prefix(500)
        case "garbage of full length": Data(repeating: 7, count: 1000)
        default: data + Data(repeating: 1, count: 10)
        }
        try partial.write(to: URL(fileURLWithPath: state.layout.ingestPath(expected.digest)))

        let other = try tmp.state().content
        #expect(!other.exists(expected.digest))
        #expect(try other.list().isEmpty)
        await expectContentError(.blobNotFound) { _ = try other.data(for: expected.digest) }

        let writer = try await other.beginIngest(expected: expected)
        #expect(writer.offset == Int64(resumedAt))
        try writer.write(data.suffix(from: resumedAt))
        try await writer.commit()
        try other.verify(expected.digest)
        #expect(ingestFiles(state).isEmpty)
    }

    @Test func abortRemovesPartial() async throws {
        let tmp = TempDirectory()
        let state = try tmp.state()
        let data = bytes("to be aborted")
        let writer = try await state.content.beginIngest(expected: descriptor(of: data))
        try writer.write(data.prefix(4))
        writer.abort()
        #expect(ingestFiles(state).isEmpty)
        await expectContentError(.ingestClosed) { try writer.write(data) }
    }

    @Test func alreadyStoredBlobNeedsNoWriting() async throws {
        let tmp = TempDirectory()
        let content = try tmp.state().content
        let data = bytes("present")
        try await content.ingest(data, mediaType: .ociLayer)
        let writer = try await content.beginIngest(expected: descriptor(of: data, .ociLayer))
        #expect(writer.isComplete)
        #expect(writer.offset == Int64(data.count))
        #expect(try await writer.commit() == descriptor(of: data, .ociLayer))
    }

    @Test func writerWithoutExpectedDigestLearnsIt() async throws {
        let tmp = TempDirectory()
        let state = try tmp.state()
        let data = bytes("a layer being built")
        let writer = try await state.content.beginIngest(mediaType: .ociLayer)
        try writer.write(data.prefix(5))
        try writer.write(data.dropFirst(5))
        #expect(try await writer.commit() == descriptor(of: data, .ociLayer))
        try state.content.verify(.sha256(of: data))
        #expect(ingestFiles(state).isEmpty)

        let dropped = try await state.content.beginIngest(mediaType: .ociLayer)
        try dropped.write(data)
        dropped.close()
        #expect(ingestFiles(state).isEmpty)
    }

    @Test func concurrentIngestsOfTheSameBlob() async throws {
        let tmp = TempDirectory()
        var generator = ByteGenerator(seed: 3)
        let data = generator.next(2 * ContentStore.chunkSize + 1)
        let expected = descriptor(of: data)
        let stores = try (0..<4).map { _ in try tmp.state().content }
        try await withThrowingTaskGroup(of: Descriptor.self) { group in
            for i in 0..<12 {
                let store = stores[i % stores.count]
                group.addTask {
                    // Written in pieces with yields, so the writers really overlap.
                    let writer = try await store.beginIngest(expected: expected)
                    if writer.isComplete { return try await writer.commit() }
                    var offset = Int(writer.offset)
                    while offset < data.count {
                        let end = min(offset + 300_000, data.count)
                        try writer.write(data[offset..<end])
                        offset = end
                        await Task.yield()
                    }
                    return try await writer.commit()
                }
            }
            for try await stored in group { #expect(stored == expected) }
        }
        #expect(try stores[0].list().map(\.digest) == [expected.digest])
        try stores[0].verify(expected.digest)
        #expect(ingestFiles(try tmp.state()).isEmpty)
    }

    @Test func concurrentIngestsOfDifferentBlobs() async throws {
        let tmp = TempDirectory()
        let stores = try (0..<3).map { _ in try tmp.state().content }
        let blobs = (0..<24).map { bytes("blob number \($0) " + String(repeating: "x", count: $0 * 1000)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, data) in blobs.enumerated() {
                group.addTask { try await stores[i % stores.count].ingest(data, mediaType: .ociLayer) }
            }
            try await group.waitForAll()
        }
        #expect(Set(try stores[1].list().map(\.digest)) == Set(blobs.map { Digest.sha256(of: $0) }))
        for blob in try stores[2].list() { try stores[2].verify(blob.digest) }
    }

    /// 64 MiB generated a chunk at a time: neither the test nor the store holds the whole blob.
    @Test func largeBlobIsStreamed() async throws {
        let tmp = TempDirectory()
        let content = try tmp.state().content
        let chunks = 64, chunkSize = 1 << 20
        var hasher = DigestHasher()
        var generator = ByteGenerator(seed: 42)
        for _ in 0..<chunks { hasher.update(generator.next(chunkSize)) }
        let expected = Descriptor(mediaType: .ociLayer, digest: hasher.finalize(), size: Int64(chunks * chunkSize))

        let writer = try await content.beginIngest(expected: expected)
        generator = ByteGenerator(seed: 42)
        for _ in 0..<chunks { try writer.write(generator.next(chunkSize)) }
        try await writer.commit()
        #expect(try content.size(of: expected.digest) == expected.size)
        try content.verify(expected.digest)

        var total = 0
        var readBack = DigestHasher()
        for try await chunk in try content.chunks(of: expected.digest) {
            #expect(chunk.count <= ContentStore.chunkSize)
            readBack.update(chunk)
            total += chunk.count
        }
        #expect(total == chunks * chunkSize)
        #expect(readBack.finalize() == expected.digest)
        await expectContentError(.blobTooLarge) { _ = try content.data(for: expected.digest) }
    }

    @Test func verifyDetectsCorruption() async throws {
        let tmp = TempDirectory()
        let content = try tmp.state().content
        let stored = try await content.ingest(bytes("pristine"), mediaType: .ociLayer)
        try Data("tampered".utf8).write(to: URL(fileURLWithPath: content.path(for: stored.digest)))
        let error = await expectContentError(.digestMismatch) { try content.verify(stored.digest) }
        #expect(error?.description.hasPrefix("blob \(stored.digest) does not match its digest (got sha256:") == true)
        await expectContentError(.digestMismatch) { _ = try content.data(for: stored.digest) }
    }

    @Test func deleteAndMissingBlobs() async throws {
        let tmp = TempDirectory()
        let content = try tmp.state().content
        let stored = try await content.ingest(bytes("short-lived"), mediaType: .ociLayer)
        #expect(try content.delete(stored.digest))
        #expect(try !content.delete(stored.digest))
        #expect(!content.exists(stored.digest))
        let error = await expectContentError(.blobNotFound) { _ = try content.open(stored.digest) }
        #expect(error?.description == "blob \(stored.digest) not found")
    }

    @Test func rejectsUnsupportedDigest() async throws {
        let tmp = TempDirectory()
        let content = try tmp.state().content
        let digest = try Digest(algorithm: .sha512, hex: String(repeating: "a", count: 128))
        await expectContentError(.unsupportedDigest) {
            _ = try await content.beginIngest(expected: Descriptor(mediaType: .ociLayer, digest: digest, size: 1))
        }
    }

    /// Another process holding a digest's ingest lock (here `flock(1)`) makes a second writer wait; when it
    /// lets go, the second one proceeds.
    @Test func ingestWaitsForAnotherProcessHoldingTheDigest() async throws {
        let tmp = TempDirectory()
        let state = try tmp.state()
        let data = bytes("contended across processes")
        let expected = descriptor(of: data)
        let holder = try ExternalLockHolder(path: state.layout.ingestPath(expected.digest), exclusive: true, in: tmp)
        try await holder.waitUntilLocked()
        try await state.content.ingest(data, expected: expected)
        #expect(holder.released)
        try state.content.verify(expected.digest)
        holder.wait()
    }
}
