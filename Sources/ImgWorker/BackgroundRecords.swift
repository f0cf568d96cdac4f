import Synchronization

/// Cache records written off a build's critical path. Recording a step's result means two small blobs
/// (its config and manifest), each fsynced before it is renamed into place, and then the record itself:
/// 10-40 ms of disk flushes per step that the next step need not wait for, since it starts from the
/// step's snapshot. The order within a record is unchanged (blobs durable before the record that names
/// them), so a build killed before a record lands only loses that cache entry.
package final class BackgroundRecords: Sendable {
    private let tasks = Mutex<[Task<Void, any Error>]>([])

    package init() {}

    /// Starts `body` now; it inherits the caller's task-local values (the build's content lease).
    func add(_ body: @escaping @Sendable () async throws -> Void) {
        let task = Task { try await body() }
        tasks.withLock { $0.append(task) }
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
        if let first { throw first }
    }
}
