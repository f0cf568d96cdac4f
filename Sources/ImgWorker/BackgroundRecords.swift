import ImgOCI
import Synchronization

/// Work done off a build's critical path, which the build waits for before it ends.
///
/// Cache records: recording a step's result means two small blobs (its config and manifest), each fsynced
/// before it is renamed into place, and then the record itself: 10-40 ms of disk flushes per step that the
/// next step need not wait for, since it starts from the step's snapshot.
///
/// Layer blobs: a step's layer is written and hashed before the step ends, but its fsync and move into the
/// content store happen beside the following steps; whatever names the blob (a cache record, the image, an
/// archive) waits for it first (`waitForBlobs`). So the order on disk is unchanged: a blob is durable before
/// anything that names it, and a build killed meanwhile only loses cache entries (an unpublished blob stays
/// in the ingest directory for GC).
package final class BackgroundRecords: Sendable {
    private let tasks = Mutex<[Task<Void, any Error>]>([])
    private let blobs = Mutex<[Digest: [Task<Void, any Error>]]>([:])

    package init() {}

    /// Starts `body` now; it inherits the caller's task-local values (the build's content lease).
    func add(_ body: @escaping @Sendable () async throws -> Void) {
        let task = Task { try await body() }
        tasks.withLock { $0.append(task) }
    }

    /// Starts `commit`, which puts the blob `digest` into the content store, now.
    func addBlob(_ digest: Digest, _ commit: @escaping @Sendable () async throws -> Void) {
        let task = Task { try await commit() }
        blobs.withLock { $0[digest, default: []].append(task) }
    }

    /// Returns once each of `digests` that this build is still putting into the content store is there;
    /// throws if one could not be stored.
    func waitForBlobs(_ digests: some Sequence<Digest>) async throws {
        let pending = blobs.withLock { map in digests.flatMap { map[$0] ?? [] } }
        for task in pending { try await task.value }
    }

    /// Waits for everything started so far (and anything those start); throws the first failure after
    /// all have finished. Call before the build's lease ends.
    package func drain() async throws {
        var first: (any Error)?
        while true {
            let pending = tasks.withLock { list in
                defer { list.removeAll() }
                return list
            }
            if pending.isEmpty { break }
            for task in pending {
                do { try await task.value } catch { if first == nil { first = error } }
            }
        }
        for task in blobs.withLock({ $0.values.flatMap { $0 } }) {
            do { try await task.value } catch { if first == nil { first = error } }
        }
        if let first { throw first }
    }
}
