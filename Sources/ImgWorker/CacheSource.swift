package import ImgContent
package import ImgOCI
import Synchronization

/// A build cache outside the state directory (`--cache-from`), asked for a step's key when the local cache
/// misses. A source that holds the key copies what the result needs into the state directory (blobs, then
/// a local cache record) and hands the result over, as a local hit would read it back. A source that
/// cannot (a corrupt blob, an unreadable file) warns and says no: the step runs.
package protocol CacheSource: Sendable {
    /// Records the result of `key` in `state`'s cache when this source has it, and returns it; nil if not.
    func importRecord(_ key: Digest, into state: StateDirectory) async -> ImportedRecord?
    /// Fills the cache mount `id`'s `directory` (missing or empty) with what this source holds for it;
    /// true if it did. A source that cannot warns and leaves the directory as it was.
    func seedCacheMount(_ id: String, into directory: String, state: StateDirectory) async -> Bool
}

extension CacheSource {
    /// A source without cache mounts.
    package func seedCacheMount(_ id: String, into directory: String, state: StateDirectory) async -> Bool { false }
}

/// One step's result as the worker produced or found it, for `--cache-to`: its key, the key of the step it
/// was made on (nil for none), and the OCI manifest of its local cache record.
package struct ProducedResult: Sendable, Hashable {
    /// The vertex that produced it.
    package var vertex: Int
    package var key: Digest
    package var parent: Digest?
    package var manifest: Descriptor

    package init(vertex: Int, key: Digest, parent: Digest?, manifest: Descriptor) {
        self.vertex = vertex
        self.key = key
        self.parent = parent
        self.manifest = manifest
    }
}

/// Every result a build's worker produced or found in the cache, in the order they were recorded (a hit
/// at once, a miss once its record is written: drain the worker's records before reading).
package final class ProducedResults: Sendable {
    private let results = Mutex<[ProducedResult]>([])

    package init() {}

    func add(_ result: ProducedResult) {
        results.withLock { $0.append(result) }
    }

    package var all: [ProducedResult] { results.withLock { $0 } }
}
