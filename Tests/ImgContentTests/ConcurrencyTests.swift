import Foundation
import ImgTestSupport
@testable import ImgContent
import ImgOCI
import Testing

/// Several independent instances on one state directory (each with its own SQLite connections and lock
/// file descriptions, which is what separate processes have) pull, tag, remove and collect garbage at
/// once. Afterwards the database must be sound, every blob must match its digest, and every recorded
/// image must be complete: GC never took a blob from under a pull.
@Suite struct ConcurrencyTests {
    @Test func instancesHammeringOneStateDirectory() async throws {
        let tmp = TempDirectory()
        let states = try (0..<4).map { _ in try tmp.state() }
        let sharedLayers = (0..<3).map { bytes("shared base layer \($0) " + String(repeating: "b", count: 40_000 * ($0 + 1))) }
        let workers = 4, rounds = 6

        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<workers {
                let state = states[w % states.count]
                group.addTask {
                    for r in 0..<rounds {
                        let name = reference("localhost:5000/worker\(w)/image:\(r % 3)")
                        try await state.content.withLease { _ in
                            let layers = [sharedLayers[(w + r) % sharedLayers.count], bytes("own layer \(w) \(r)")]
                            let image = try await makeImage(state.content, seed: "w\(w)r\(r)", layers: layers)
                            try await state.images.put(name, descriptor: image.manifest)
                        }
                        if r % 2 == 1 {
                            try await state.images.remove(name)
                        } else {
                            try await state.images.tag(name, as: reference("localhost:5000/worker\(w)/latest"))
                        }
                    }
                }
            }
            group.addTask {
                for i in 0..<8 {
                    try await states[i % states.count].collectGarbage(GCOptions(ingestMaxAge: .seconds(0)))
                    try await Task.sleep(nanoseconds: 5_000_000)
                }
            }
            try await group.waitForAll()
        }

        let checker = try tmp.state()
        #expect(try await checker.databaseIntegrityCheck() == ["ok"])
        for blob in try checker.content.list() { try checker.content.verify(blob.digest) }
        let images = try await checker.images.list()
        #expect(!images.isEmpty)
        for image in images {
            let closure = try checker.content.closure(of: [image.descriptor])
            #expect(closure.missingRequired.isEmpty, "\(image.name) lost \(closure.missingRequired.map(\.digest))")
            #expect(closure.present.count == 4)
        }
        #expect(ingestFiles(checker).isEmpty)
        // A final collection leaves exactly what the images reach.
        try await checker.collectGarbage()
        let reachable = try images.reduce(into: Set<Digest>()) { $0.formUnion(try checker.content.closure(of: [$1.descriptor]).digests) }
        #expect(Set(try checker.content.list().map(\.digest)) == reachable)
    }
}
