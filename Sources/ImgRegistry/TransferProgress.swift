package import ImgOCI
import Synchronization

/// Which way a blob's bytes go.
package enum TransferDirection: Sendable, Hashable {
    case download, upload
}

/// Receives the byte progress of blob downloads and uploads (`img pull`/`push`, a build's base images and
/// pushes). Calls come from many tasks at once; `progress` at most every `TransferMeter.interval` per blob.
package protocol TransferObserver: Sendable {
    /// Bytes start moving for `blob` (`done` already there: a resumed download).
    func transferStarted(_ blob: Descriptor, _ direction: TransferDirection, done: Int64)
    func transferProgress(_ blob: Descriptor, _ direction: TransferDirection, done: Int64)
    /// All of `blob` is there (verified for a download, accepted by the registry for an upload).
    func transferFinished(_ blob: Descriptor, _ direction: TransferDirection)
}

/// The observer of the current task and its children: set around a pull or push by whoever shows progress,
/// so the registry client's loops need no callback threaded through every layer above them.
package enum TransferProgress {
    @TaskLocal package static var observer: (any TransferObserver)?
    /// The upload under way in this task: the request sender's body stream advances it.
    @TaskLocal static var upload: SharedTransferMeter?
}

/// A meter the upload's body stream (another task) advances.
final class SharedTransferMeter: Sendable {
    private let meter: Mutex<TransferMeter>
    init(_ meter: TransferMeter) { self.meter = Mutex(meter) }
    func advance(to done: Int64) { meter.withLock { $0.advance(to: done) } }
    func finish() { meter.withLock { $0.finish() } }
}

/// One blob's progress, throttled: the byte loops call `advance` for every chunk, the observer hears of it
/// at most every `interval`.
package struct TransferMeter: Sendable {
    package static let interval = Duration.milliseconds(100)
    let observer: any TransferObserver
    let blob: Descriptor
    let direction: TransferDirection
    private var last: ContinuousClock.Instant

    /// A meter for `blob` when the current task has an observer (telling it the transfer started).
    package init?(_ blob: Descriptor, _ direction: TransferDirection, done: Int64 = 0,
                  observer: (any TransferObserver)? = TransferProgress.observer) {
        guard let observer else { return nil }
        self.observer = observer
        self.blob = blob
        self.direction = direction
        last = .now
        observer.transferStarted(blob, direction, done: done)
    }

    /// `done` bytes of the blob are across.
    package mutating func advance(to done: Int64) {
        let now = ContinuousClock.now
        guard now - last >= Self.interval else { return }
        last = now
        observer.transferProgress(blob, direction, done: done)
    }

    package func finish() { observer.transferFinished(blob, direction) }
}
