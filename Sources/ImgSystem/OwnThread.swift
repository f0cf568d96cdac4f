import Foundation

/// Runs blocking work (a child process, a mount probe, a database's creation) on a thread of its own: on the
/// cooperative pool, which has one thread per core, it would hold back every task waiting on the network.
package func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            do { continuation.resume(returning: try work()) } catch { continuation.resume(throwing: error) }
        }
    }
}
