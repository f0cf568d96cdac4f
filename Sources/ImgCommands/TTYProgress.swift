import Foundation
import Glibc
import ImgOCI
import Synchronization

/// The live view BuildKit users know: `[+] Building 4.2s (3/8)`, one line per step with its time or
/// CACHED, and the last lines of output of the steps still running. Redrawn in place on stderr.
// @unchecked Sendable: the timer is set up in init and only cancelled afterwards; all other state is behind
// the mutex.
final class TTYProgress: ProgressDisplay, @unchecked Sendable {
    private struct Step {
        var title: String
        var started: ContinuousClock.Instant
        var ended: ContinuousClock.Instant?
        var cached = false
        var failed = false
        var partial: [UInt8] = []
        var tail: [String] = []
    }

    private struct State {
        var order: [Int] = []
        var steps: [Int: Step] = [:]
        var messages: [String] = []
        /// Base-image downloads and pushes, latest line per blob, in the order they started.
        var transfers: [(blob: Digest, text: String)] = []
        var drawnLines = 0
        var stopped = false
    }

    private let state = Mutex(State())
    private let clock = ContinuousClock()
    private let start = ContinuousClock.now
    private let timer: any DispatchSourceTimer
    private static let tailLines = 6

    /// With --debug, notes (cache-miss reasons) are shown too; otherwise only messages and errors.
    private let debug: Bool

    init(debug: Bool) {
        self.debug = debug
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "img.progress"))
        timer.schedule(deadline: .now(), repeating: .milliseconds(150))
        timer.setEventHandler { [weak self] in self?.draw(final: false) }
        timer.resume()
    }

    deinit { timer.cancel() }

    /// Draws the final state once and stops redrawing.
    func stop() {
        timer.cancel()
        draw(final: true)
    }

    func started(_ vertex: Int, title: String) {
        state.withLock {
            $0.order.append(vertex)
            $0.steps[vertex] = Step(title: title, started: clock.now)
        }
    }

    func cached(_ vertex: Int) {
        state.withLock {
            $0.steps[vertex]?.cached = true
            $0.steps[vertex]?.ended = clock.now
        }
    }

    func output(_ vertex: Int, _ bytes: [UInt8]) {
        state.withLock { state in
            guard var step = state.steps[vertex] else { return }
            step.partial.append(contentsOf: bytes)
            while let newline = step.partial.firstIndex(of: UInt8(ascii: "\n")) {
                step.tail.append(String(decoding: step.partial[..<newline], as: UTF8.self))
                step.partial.removeSubrange(...newline)
                if step.tail.count > Self.tailLines { step.tail.removeFirst() }
            }
            state.steps[vertex] = step
        }
    }

    func note(_ vertex: Int, _ text: String) {
        guard debug else { return }
        state.withLock { $0.messages.append(text) }
    }

    func finished(_ vertex: Int) { state.withLock { $0.steps[vertex]?.ended = clock.now } }

    func failed(_ vertex: Int, _ message: String) {
        state.withLock {
            $0.steps[vertex]?.failed = true
            $0.steps[vertex]?.ended = clock.now
            $0.messages.append("ERROR: \(message)")
        }
    }

    func message(_ text: String) { state.withLock { $0.messages.append(text) } }

    func transfer(_ blob: Digest, _ text: String, milestone: Bool) {
        state.withLock { state in
            if let i = state.transfers.firstIndex(where: { $0.blob == blob }) { state.transfers[i].text = text }
            else { state.transfers.append((blob, text)) }
        }
    }

    private func draw(final: Bool) {
        let width = Self.terminalWidth()
        let text = state.withLock { state -> String in
            guard !state.stopped else { return "" }
            if final { state.stopped = true }
            let now = clock.now
            let done = state.order.filter { state.steps[$0]?.ended != nil }.count
            var lines = ["[+] Building \(Self.seconds(now - start)) (\(done)/\(state.order.count))\(final ? " FINISHED" : "")"]
            for id in state.order {
                guard let step = state.steps[id] else { continue }
                let time = step.cached ? "0.0s" : Self.seconds((step.ended ?? now) - step.started)
                let prefix = step.failed ? " => ERROR " : step.cached ? " => CACHED " : " => "
                lines.append(Self.fit(prefix + step.title, right: time, width: width))
                if step.ended == nil || step.failed {
                    for line in step.tail { lines.append(Self.fit(" => => # " + line, right: "", width: width)) }
                }
            }
            lines += state.transfers.map { Self.fit(" => => " + $0.text, right: "", width: width) }
            lines += state.messages.map { Self.fit(" => " + $0, right: "", width: width) }
            // Move to where the last frame started and clear below it, then draw the new frame.
            var out = state.drawnLines > 0 ? "\u{1B}[\(state.drawnLines)A\r\u{1B}[J" : ""
            out += lines.joined(separator: "\n") + "\n"
            state.drawnLines = lines.count
            return out
        }
        if !text.isEmpty { FileHandle.standardError.write(Data(text.utf8)) }
    }

    private static func fit(_ left: String, right: String, width: Int) -> String {
        let room = max(10, width - right.count - 1)
        var shown = left.replacingOccurrences(of: "\t", with: " ")
        if shown.count > room { shown = String(shown.prefix(room - 1)) + "…" }
        guard !right.isEmpty else { return shown }
        return shown + String(repeating: " ", count: max(1, width - shown.count - right.count)) + right
    }

    private static func seconds(_ duration: Duration) -> String { duration.fixed(1) + "s" }

    private static func terminalWidth() -> Int {
        var size = winsize()
        if ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 20 { return Int(size.ws_col) }
        return 80
    }
}
