import Foundation
import Glibc
import Img
package import ImgOCI
package import ImgRegistry
import Synchronization

/// Sizes, speeds and bars as the transfer views show them: decimal units as docker prints them (`12.3MB`).
enum TransferText {
    static func size(_ bytes: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(bytes), unit = 0
        while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(bytes)B" : String(format: value < 100 ? "%.1f%@" : "%.0f%@", value, units[unit])
    }

    /// Bytes per second over `elapsed`, or nil before there is anything to measure.
    static func speed(_ bytes: Int64, _ elapsed: Duration) -> String? {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        guard seconds >= 0.05, bytes > 0 else { return nil }
        return size(Int64(Double(bytes) / seconds)) + "/s"
    }

    /// `[=====>      ]`, `width` characters inside the brackets.
    static func bar(_ done: Int64, of total: Int64, width: Int = 20) -> String {
        let filled = total > 0 ? Int(Double(width) * Double(min(done, total)) / Double(total)) : 0
        let arrow = filled < width ? ">" : "="
        return "[" + String(repeating: "=", count: max(0, filled - (filled < width ? 0 : 1))) + arrow
            + String(repeating: " ", count: max(0, width - filled - 1)) + "]"
    }
}

/// One blob on its way, as the views keep it.
struct TransferEntry {
    var blob: Descriptor
    var direction: TransferDirection
    var started: ContinuousClock.Instant
    var startDone: Int64
    var done: Int64
    /// The final word (`Download complete`, `Pushed`, `Layer already exists`), once there is one.
    var status: String?

    var id: String { String(blob.digest.hex.prefix(12)) }
    var speed: String? { TransferText.speed(done - startDone, ContinuousClock.now - started) }
}

/// `img pull` / `img push` progress, per layer as docker shows it. On a terminal (stdout) one line per
/// layer, redrawn in place at most 10 times a second: `0123456789ab: Downloading [===>   ]  12.3MB/45.6MB  5.1MB/s`,
/// then `Download complete` / `Pushed`. Elsewhere plain lines: a layer's start and finish, and every
/// `plainStep` bytes of a big one, so a long pull in a CI log shows it is moving.
// @unchecked Sendable: the timer is set up in init and only cancelled afterwards; all other state is behind
// the mutex.
package final class TransferDisplay: TransferObserver, @unchecked Sendable {
    private struct State {
        var order: [Digest] = []
        var entries: [Digest: TransferEntry] = [:]
        /// Plain mode: the next byte count to print a line at.
        var nextLine: [Digest: Int64] = [:]
        var drawnLines = 0
        var stopped = false
    }

    package static let plainStep: Int64 = 64 << 20

    let tty: Bool
    private let state = Mutex(State())
    private let write: @Sendable (String) -> Void
    private let timer: (any DispatchSourceTimer)?

    /// `tty`: redraw in place (by default when stdout is a terminal). `write` puts text on stdout, through
    /// stdio so it keeps its place among the command's `print`s.
    package init(tty: Bool = isatty(1) != 0, write: @escaping @Sendable (String) -> Void = { text in
        print(text, terminator: "")
        fflush(nil)   // every stream: stdout's C global is not concurrency-safe to name
    }) {
        self.tty = tty
        self.write = write
        if tty {
            let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "img.transfer-progress"))
            timer.schedule(deadline: .now(), repeating: .milliseconds(100))
            self.timer = timer
            timer.setEventHandler { [weak self] in self?.draw() }
            timer.resume()
        } else {
            timer = nil
        }
    }

    deinit { timer?.cancel() }

    /// Draws the last frame; nothing more is drawn after it.
    package func stop() {
        timer?.cancel()
        if tty { draw() }
        state.withLock { $0.stopped = true }
    }

    package func transferStarted(_ blob: Descriptor, _ direction: TransferDirection, done: Int64) {
        guard blob.mediaType.isLayer else { return }
        let entry = TransferEntry(blob: blob, direction: direction, started: .now, startDone: done, done: done)
        state.withLock { state in
            if state.entries[blob.digest] == nil { state.order.append(blob.digest) }
            state.entries[blob.digest] = entry
            state.nextLine[blob.digest] = done + Self.plainStep
        }
        if !tty {
            let verb = direction == .download ? "Downloading" : "Pushing"
            write("\(entry.id): \(verb) \(TransferText.size(blob.size))" + (done > 0 ? " (from \(TransferText.size(done)))" : "") + "\n")
        }
    }

    package func transferProgress(_ blob: Descriptor, _ direction: TransferDirection, done: Int64) {
        guard blob.mediaType.isLayer else { return }
        let line = state.withLock { state -> String? in
            guard var entry = state.entries[blob.digest] else { return nil }
            entry.done = done
            state.entries[blob.digest] = entry
            guard !tty, let next = state.nextLine[blob.digest], done >= next else { return nil }
            state.nextLine[blob.digest] = done + Self.plainStep
            return "\(entry.id): \(TransferText.size(done))/\(TransferText.size(blob.size))"
                + (entry.speed.map { " \($0)" } ?? "") + "\n"
        }
        if let line { write(line) }
    }

    package func transferFinished(_ blob: Descriptor, _ direction: TransferDirection) {
        guard blob.mediaType.isLayer else { return }
        let line = state.withLock { state -> String? in
            guard var entry = state.entries[blob.digest] else { return nil }
            entry.done = blob.size
            // A push's last word comes with its outcome (`status`); a download's is here.
            if direction == .download { entry.status = "Download complete" } else { entry.status = entry.status ?? "Pushed" }
            state.entries[blob.digest] = entry
            guard !tty, direction == .download else { return nil }
            return "\(entry.id): Download complete" + (entry.speed.map { " (\($0))" } ?? "") + "\n"
        }
        if let line { write(line) }
    }

    /// A layer's final word that no transfer told (`Layer already exists`, `Mounted from x`, `Pushed`).
    package func status(_ blob: Descriptor, _ text: String) {
        guard blob.mediaType.isLayer else { return }
        let id = String(blob.digest.hex.prefix(12))
        guard tty else { write("\(id): \(text)\n"); return }
        state.withLock { state in
            if state.entries[blob.digest] == nil {
                state.order.append(blob.digest)
                state.entries[blob.digest] = TransferEntry(blob: blob, direction: .upload, started: .now, startDone: 0, done: 0)
            }
            state.entries[blob.digest]?.status = text
        }
    }

    private func draw() {
        let text = state.withLock { state -> String in
            guard !state.stopped, !state.order.isEmpty else { return "" }
            let lines = state.order.compactMap { state.entries[$0] }.map(Self.line)
            var out = state.drawnLines > 0 ? "\u{1B}[\(state.drawnLines)A\r\u{1B}[J" : ""
            out += lines.joined(separator: "\n") + "\n"
            state.drawnLines = lines.count
            return out
        }
        if !text.isEmpty { write(text) }
    }

    static func line(_ entry: TransferEntry) -> String {
        if let status = entry.status { return "\(entry.id): \(status)" }
        let verb = entry.direction == .download ? "Downloading" : "Pushing"
        return "\(entry.id): \(verb) \(TransferText.bar(entry.done, of: entry.blob.size)) "
            + "\(TransferText.size(entry.done))/\(TransferText.size(entry.blob.size))" + (entry.speed.map { "  \($0)" } ?? "")
    }
}

/// A build's base-image pulls and its pushes on the build's own view, as BuildKit shows them:
/// `downloading sha256:0123456789ab 12.3MB / 45.6MB 5.1MB/s`, then `... 45.6MB / 45.6MB 1.2s done`.
/// Every update goes to the view (a terminal shows the latest, at most 10 a second); the plain view prints
/// only `milestone`s: a layer's start, every `TransferDisplay.plainStep` bytes and its end.
final class BuildTransfers: TransferObserver {
    private let display: any ProgressDisplay
    private let entries = Mutex([Digest: (entry: TransferEntry, next: Int64)]())

    init(_ display: any ProgressDisplay) { self.display = display }

    func transferStarted(_ blob: Descriptor, _ direction: TransferDirection, done: Int64) {
        guard blob.mediaType.isLayer else { return }
        let entry = TransferEntry(blob: blob, direction: direction, started: .now, startDone: done, done: done)
        entries.withLock { $0[blob.digest] = (entry, done + TransferDisplay.plainStep) }
        display.transfer(blob.digest, Self.text(entry, finished: false), milestone: true)
    }

    func transferProgress(_ blob: Descriptor, _ direction: TransferDirection, done: Int64) {
        guard blob.mediaType.isLayer else { return }
        let update = entries.withLock { entries -> (TransferEntry, Bool)? in
            guard var item = entries[blob.digest] else { return nil }
            item.entry.done = done
            let milestone = done >= item.next
            if milestone { item.next = done + TransferDisplay.plainStep }
            entries[blob.digest] = item
            return (item.entry, milestone)
        }
        guard let (entry, milestone) = update else { return }
        display.transfer(blob.digest, Self.text(entry, finished: false), milestone: milestone)
    }

    func transferFinished(_ blob: Descriptor, _ direction: TransferDirection) {
        guard blob.mediaType.isLayer else { return }
        guard var entry = entries.withLock({ $0.removeValue(forKey: blob.digest)?.entry }) else { return }
        entry.done = blob.size
        display.transfer(blob.digest, Self.text(entry, finished: true), milestone: true)
    }

    static func text(_ entry: TransferEntry, finished: Bool) -> String {
        let verb = entry.direction == .download ? "downloading" : "pushing"
        var text = "\(verb) \(entry.blob.digest.algorithm.rawValue):\(entry.id) \(TransferText.size(entry.done)) / \(TransferText.size(entry.blob.size))"
        if finished {
            text += " " + (ContinuousClock.now - entry.started).fixed(1) + "s done"
        } else if let speed = entry.speed {
            text += " \(speed)"
        }
        return text
    }
}
