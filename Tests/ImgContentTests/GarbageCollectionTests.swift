import Foundation
import ImgTestSupport
@testable import ImgContent
import ImgOCI
import ImgSystem
import Testing

@Suite struct GarbageCollectionTests {
    let tmp = TempDirectory()

    @Test func keepsWhatImagesReachAndReportsWhatItRemoves() async throws {
        let state = try tmp.state()
        let content = state.content
        let shared = bytes("a base layer both platforms share")
        let amd64 = try await makeImage(content, seed: "amd64", layers: [shared, bytes("amd64 layer")])
        let arm64 = try await makeImage(content, seed: "arm64", layers: [shared, bytes("arm64 layer")],
                                        platform: Platform(os: "linux", architecture: "arm64"))
        let index = try await makeIndex(content, [amd64.manifest, arm64.manifest])
        try await state.images.put(reference("multi"), descriptor: index)
        let orphan = try await makeImage(content, seed: "orphan")

        let report = try await state.collectGarbage()
        #expect(Set(report.removedBlobs) == Set(orphan.all.map(\.digest)))
        #expect(report.reclaimedBytes == orphan.totalSize)
        #expect(report.keptBlobs == 1 + 2 + 2 + 3)  // index, 2 manifests, 2 configs, 3 distinct layers
        for d in [index] + amd64.all + arm64.all { #expect(content.exists(d.digest)) }
        for d in orphan.all { #expect(!content.exists(d.digest)) }

        // Nothing left to do the second time; removing the image frees everything.
        #expect(try await state.collectGarbage().removedBlobs.isEmpty)
        try await state.images.remove(reference("multi"))
        let last = try await state.collectGarbage()
        #expect(last.removedBlobs.count == 8)
        #expect(try content.list().isEmpty)
    }

    @Test func blobSourcesAreKeptNewestFirstPerRegistryAndForgottenWithTheBlob() async throws {
        let state = try tmp.state()
        let kept = try await makeImage(state.content, seed: "kept")
        try await state.images.put(reference("kept"), descriptor: kept.manifest)
        let orphan = try await makeImage(state.content, seed: "orphan")
        let layer = kept.all.last!.digest, gone = orphan.all.last!.digest
        try await state.sources.record([layer, gone], registry: "r.example:5000", repository: "a/first")
        try await state.sources.record([layer], registry: "r.example:5000", repository: "b/second")
        try await state.sources.record([layer], registry: "other.example", repository: "c/third")
        try await state.sources.record([layer], registry: "r.example:5000", repository: "a/first")  // seen again
        #expect(try await state.sources.repositories(holding: layer, registry: "r.example:5000") == ["a/first", "b/second"])
        #expect(try await state.sources.repositories(holding: layer, registry: "other.example") == ["c/third"])
        #expect(try await state.sources.repositories(holding: gone, registry: "r.example:5000") == ["a/first"])

        #expect(try await state.collectGarbage(GCOptions(dryRun: true)).removedBlobs.contains(gone))
        #expect(try await state.sources.repositories(holding: gone, registry: "r.example:5000") == ["a/first"],
                "a dry run forgets nothing")
        #expect(try await state.collectGarbage().removedBlobs.contains(gone))
        #expect(try await state.sources.repositories(holding: gone, registry: "r.example:5000").isEmpty)
        #expect(try await state.sources.repositories(holding: layer, registry: "r.example:5000") == ["a/first", "b/second"])
    }

    @Test func dryRunRemovesNothing() async throws {
        let state = try tmp.state()
        let orphan = try await makeImage(state.content, seed: "orphan")
        let report = try await state.collectGarbage(GCOptions(dryRun: true))
        #expect(report.removedBlobs.count == 4)
        for d in orphan.all { #expect(state.content.exists(d.digest)) }
    }

    @Test func keepsCacheRecordResults() async throws {
        let state = try tmp.state()
        let cached = try await makeImage(state.content, seed: "cached")
        let layerOnly = try await state.content.ingest(bytes("a cached layer"), mediaType: .ociLayer)
        try await state.cache.put(key: .sha256(of: bytes("k1")), result: cached.manifest)
        try await state.cache.put(key: .sha256(of: bytes("k2")), result: layerOnly)
        #expect(try await state.collectGarbage().removedBlobs.isEmpty)
        try await state.cache.remove(.sha256(of: bytes("k1")))
        #expect(Set(try await state.collectGarbage().removedBlobs) == Set(cached.all.map(\.digest)))
        #expect(state.content.exists(layerOnly.digest))
    }

    @Test func leasesProtectUntaggedBlobsUntilReleased() async throws {
        let state = try tmp.state()
        let gcState = try tmp.state()  // GC from another instance, as another process would
        let fixture = try await state.content.withLease { lease in
            let fixture = try await makeImage(state.content, seed: "pulling")
            #expect(try await state.content.leasedDigests(lease) == Set(fixture.all.map(\.digest)))
            #expect(try await gcState.collectGarbage().removedBlobs.isEmpty)
            try await state.images.put(reference("pulled"), descriptor: fixture.manifest)
            return fixture
        }
        #expect(try await gcState.collectGarbage().removedBlobs.isEmpty)
        for d in fixture.all { #expect(state.content.exists(d.digest)) }

        // Without the image, the released lease protects nothing.
        let unrecorded = try await state.content.withLease { _ in try await makeImage(state.content, seed: "dropped") }
        #expect(Set(try await gcState.collectGarbage().removedBlobs) == Set(unrecorded.all.map(\.digest)))
    }

    @Test func protectLeasesBlobsThatAreAlreadyStored() async throws {
        let state = try tmp.state()
        let stored = try await state.content.ingest(bytes("already here"), mediaType: .ociLayer)
        let lease = try await state.content.createLease()
        #expect(try await state.content.protect(stored.digest, lease: lease))
        #expect(try await state.collectGarbage().removedBlobs.isEmpty)
        try await state.content.releaseLease(lease)
        #expect(try await state.collectGarbage().removedBlobs == [stored.digest])
    }

    @Test func expiredLeasesAreDroppedAndStopProtecting() async throws {
        let state = try tmp.state()
        let lease = try await state.content.createLease(expiresIn: .milliseconds(1))
        let stored = try await state.content.ingest(bytes("leased briefly"), mediaType: .ociLayer, lease: lease)
        try await Task.sleep(nanoseconds: 20_000_000)
        let report = try await state.collectGarbage()
        #expect(report.expiredLeases == 1)
        #expect(report.removedBlobs == [stored.digest])
        await expectContentError(.leaseNotFound) { _ = try await state.content.protect(stored.digest, lease: lease) }
    }

    @Test func removesStaleIngestsButNotLiveOnes() async throws {
        let state = try tmp.state()
        let stale = bytes("abandoned download")
        let live = bytes("download in progress")
        let staleWriter = try await state.content.beginIngest(expected: descriptor(of: stale))
        try staleWriter.write(stale.prefix(8))
        staleWriter.close()
        let liveWriter = try await state.content.beginIngest(expected: descriptor(of: live))
        try liveWriter.write(live.prefix(8))
        let old = Date().timeIntervalSince1970 - 3 * 86400
        for name in ingestFiles(state) {
            try FileSystem.setModificationTime(path: state.layout.ingestDirectory + "/" + name, old)
        }
        let report = try await state.collectGarbage()
        #expect(report.removedIngests == 1)
        #expect(report.removedIngestBytes == 8)
        #expect(ingestFiles(state) == ["sha256-\(Digest.sha256(of: live).hex)"])
        try liveWriter.write(live.dropFirst(8))
        try await liveWriter.commit()
        #expect(state.content.exists(.sha256(of: live)))
    }

    @Test func blobsOfUnknownDigestJoinTheLeaseAtCommit() async throws {
        let state = try tmp.state()
        let data = bytes("a layer whose digest is learnt while writing")
        try await state.content.withLease { lease in
            let writer = try await state.content.beginIngest(mediaType: .ociLayer)
            try writer.write(data)
            let stored = try await writer.commit()
            #expect(try await state.content.leasedDigests(lease) == [stored.digest])
            #expect(try await state.collectGarbage().removedBlobs.isEmpty)
        }
        #expect(try await state.collectGarbage().removedBlobs == [.sha256(of: data)])
    }

    /// A temp file left by a killed build (nobody holds its lock) goes once it is old enough.
    @Test func removesTempFilesOfKilledWriters() async throws {
        let state = try tmp.state()
        let leftover = state.layout.ingestDirectory + "/tmp-deadbeef"
        try Data(repeating: 1, count: 100).write(to: URL(fileURLWithPath: leftover))
        #expect(try await state.collectGarbage().removedIngests == 0)  // young: might still be resumed
        try FileSystem.setModificationTime(path: leftover, Date().timeIntervalSince1970 - 2 * 86400)
        let report = try await state.collectGarbage()
        #expect(report.removedIngests == 1)
        #expect(report.removedIngestBytes == 100)
        #expect(ingestFiles(state).isEmpty)
    }

    /// GC in this process must wait for a shared holder of the state lock in another process (what an
    /// ingest commit in another `img` holds), and an ingest commit must wait for an exclusive holder.
    @Test(arguments: [true, false])
    func stateLockIsHonouredAcrossProcesses(otherIsExclusive: Bool) async throws {
        let state = try tmp.state()
        let holder = try ExternalLockHolder(path: state.layout.lockPath, exclusive: otherIsExclusive, in: tmp)
        try await holder.waitUntilLocked()
        if otherIsExclusive {
            let data = bytes("committed after the other process's GC")
            let writer = try await state.content.beginIngest(expected: descriptor(of: data))
            try writer.write(data)
            try await writer.commit()
        } else {
            try await state.collectGarbage()
        }
        #expect(holder.released)
        holder.wait()
    }

    @Test func corruptManifestStopsGCInsteadOfGuessing() async throws {
        let state = try tmp.state()
        let bogus = try await state.content.ingest(bytes("{\"not\": \"a manifest\"}"), mediaType: .ociManifest)
        let layer = try await state.content.ingest(bytes("maybe needed"), mediaType: .ociLayer)
        try await state.images.put(reference("broken"), descriptor: bogus)
        let error = await expectContentError(.invalidDocument) { try await state.collectGarbage() }
        #expect(error?.message.contains(bogus.digest.description) == true)
        #expect(state.content.exists(layer.digest))
    }
}

@Suite struct DiskUsageTests {
    @Test func perImageSizesCountSharedBlobsOncePerImage() async throws {
        let tmp = TempDirectory()
        let state = try tmp.state()
        let shared = bytes(String(repeating: "s", count: 1000))
        let a = try await makeImage(state.content, seed: "a", layers: [shared, shared, bytes("only a")])
        let b = try await makeImage(state.content, seed: "b", layers: [shared])
        try await state.images.put(reference("a"), descriptor: a.manifest)
        try await state.images.put(reference("b"), descriptor: b.manifest)
        let stray = try await state.content.ingest(bytes("stray"), mediaType: .ociLayer)

        let usage = try await state.diskUsage()
        let sizeA = a.manifest.size + a.config.size + 1000 + Int64("only a".utf8.count)
        let sizeB = b.manifest.size + b.config.size + 1000
        #expect(usage.images.map(\.size) == [sizeA, sizeB])
        #expect(usage.images.map(\.uniqueSize) == [sizeA - 1000, sizeB - 1000])
        #expect(usage.images.map(\.blobCount) == [4, 3])
        #expect(usage.blobCount == 7)  // 4 + 3, the shared layer once, and the stray blob
        #expect(usage.blobBytes == sizeA + sizeB - 1000 + stray.size)
        #expect(usage.unreferencedBytes == stray.size)
        #expect(try state.size(of: a.manifest) == sizeA)
        #expect(try state.content.usage().bytes == usage.blobBytes)
    }
}
