import Glibc
import ImgSystem

/// The state directory's lock protocol, across processes. Steps that make a blob visible or protect it
/// (lease an existing blob, rename an ingest into place) hold `<state>/lock` shared; garbage collection
/// holds it exclusively from reading its roots until its sweep ends, so it can never see a blob that is
/// not yet protected by a lease it already read.
///
/// Waiting polls with `LOCK_NB` and `Task.sleep` rather than a blocking `flock`: a blocked cooperative
/// thread (there are as few as two) could starve the very task that would release the lock, and polling
/// keeps waiting cancellable.
struct StateLock: Sendable {
    let path: String

    func withShared<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws(ContentError) -> T
    ) async throws(ContentError) -> T {
        let file = try await acquire(exclusive: false)
        defer { file.unlock() }
        return try await body()
    }

    func withExclusive<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws(ContentError) -> T
    ) async throws(ContentError) -> T {
        let file = try await acquire(exclusive: true)
        defer { file.unlock() }
        return try await body()
    }

    private func acquire(exclusive: Bool) async throws(ContentError) -> SystemFile {
        var backoff = Backoff()
        while true {
            let attempt: LockAttempt
            do {
                attempt = try SystemFile.tryLocking(path: path, flags: O_RDWR | O_CREAT, permissions: 0o600,
                                                    exclusive: exclusive)
            } catch { throw ContentError.io("lock state directory", error) }
            if case .locked(let file) = attempt { return file }
            try await backoff.wait("waiting for the state lock \(path)")
        }
    }
}

/// Exponential sleep between lock attempts: 1 ms doubling to 50 ms.
struct Backoff {
    private var nanoseconds: UInt64 = 1_000_000

    mutating func wait(_ what: String) async throws(ContentError) {
        do { try await Task.sleep(nanoseconds: nanoseconds) } catch { throw ContentError(.cancelled, "\(what): cancelled") }
        nanoseconds = min(nanoseconds * 2, 50_000_000)
    }
}
