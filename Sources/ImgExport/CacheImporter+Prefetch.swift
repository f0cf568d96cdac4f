import Foundation
import ImgOCI
import Synchronization

/// The image configs of records that are likely to hit next, fetched side by side: a step that hits is
/// usually followed by the steps made on it, and from a registry each config is a round trip that would
/// otherwise be paid one after another, step by step. Only configs (small) are fetched ahead; layers stay lazy.
final class ConfigPrefetch: Sendable {
    /// Records made on each record (their inputs link to it), by record index.
    let children: [Int: [Int]]
    let indexByKey: [Digest: Int]
    /// Configs the cache config carries (`CacheConfig.embeddedConfigs`): nothing to fetch.
    private let embedded: Set<Digest>
    private let started = Mutex<Set<Int>>([])
    private let fetched = Mutex<[Digest: Task<Data, any Error>]>([:])
    /// How many configs one hit may fetch ahead.
    static let limit = 64

    init(_ config: CacheConfig) {
        children = CacheConfig.children(config.records)
        var indexByKey: [Digest: Int] = [:]
        for (index, record) in config.records.enumerated() where indexByKey[record.digest] == nil {
            indexByKey[record.digest] = index
        }
        self.indexByKey = indexByKey
        embedded = Set(config.embeddedConfigs.keys)
    }

    /// At load: the configs of the records made on no other record (each stage's first cached step), which
    /// are the first a build asks for; the rest follow `after` as steps hit.
    func roots(records: [CacheConfig.Record], blobs: [Digest: Descriptor], store: any CacheBlobStore) {
        var picked: [Descriptor] = []
        for (index, record) in records.enumerated() where record.inputs.allSatisfy(\.isEmpty) && picked.count < Self.limit {
            guard started.withLock({ $0.insert(index).inserted }) else { continue }
            if let digest = record.config, let blob = blobs[digest] { picked.append(blob) }
        }
        fetchAhead(picked, store: store)
    }

    /// After `key` hit: starts fetching the configs of the records made on it, and on those, breadth first.
    func after(_ key: Digest, records: [CacheConfig.Record], blobs: [Digest: Descriptor], store: any CacheBlobStore) {
        guard let start = indexByKey[key] else { return }
        var queue = children[start] ?? []
        var picked: [Descriptor] = []
        while !queue.isEmpty, picked.count < Self.limit {
            let next = queue.removeFirst()
            guard started.withLock({ $0.insert(next).inserted }) else { continue }
            if let digest = records[next].config, let blob = blobs[digest] { picked.append(blob) }
            queue += children[next] ?? []
        }
        fetchAhead(picked, store: store)
    }

    private func fetchAhead(_ picked: [Descriptor], store: any CacheBlobStore) {
        fetched.withLock { tasks in
            for blob in picked where tasks[blob.digest] == nil && !embedded.contains(blob.digest) {
                tasks[blob.digest] = Task { try await store.bytes(blob) }
            }
        }
    }

    /// A config fetched ahead, or nil (then it is fetched as usual). A failed fetch ahead is a miss here.
    func bytes(_ digest: Digest) async -> Data? {
        guard let task = fetched.withLock({ $0[digest] }) else { return nil }
        return try? await task.value
    }
}
