import Foundation
import Img
import ImgOCI
import ImgWorker
import Synchronization

/// BuildKit's plain progress: `#N title`, `#N 0.123 output line`, `#N DONE 0.4s` / `#N CACHED` / `#N ERROR`.
/// Lines go to stderr as they happen, so CI logs read top to bottom.
/// A progress view the build command owns: it is stopped (final frame drawn) when the build ends.
protocol ProgressDisplay: BuildProgress {
    func stop()
    /// A blob's transfer (`BuildTransfers`): a terminal shows the latest `text` per blob, plain output
    /// prints the `milestone`s.
    func transfer(_ blob: Digest, _ text: String, milestone: Bool)
}

final class PlainProgress: ProgressDisplay {
    private struct Step {
        var number: Int
        var started: ContinuousClock.Instant
        var partial: [UInt8] = []
        var lastLines: [String] = []
    }

    private struct State {
        var steps: [Int: Step] = [:]
        var next = 1
    }

    private let state = Mutex(State())
    private let clock = ContinuousClock()
    private let debug: Bool
    private let write: @Sendable (String) -> Void

    init(debug: Bool, write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.debug = debug
        self.write = write
    }

    func started(_ vertex: Int, title: String) {
        let number = state.withLock { state -> Int in
            let number = state.next
            state.next += 1
            state.steps[vertex] = Step(number: number, started: clock.now)
            return number
        }
        write("#\(number) \(title)\n")
    }

    func cached(_ vertex: Int) {
        guard let number = state.withLock({ $0.steps[vertex]?.number }) else { return }
        write("#\(number) CACHED\n")
    }

    func output(_ vertex: Int, _ bytes: [UInt8]) {
        let text = state.withLock { state -> String in
            guard var step = state.steps[vertex] else { return "" }
            step.partial.append(contentsOf: bytes)
            var out = ""
            while let newline = step.partial.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: step.partial[..<newline], as: UTF8.self)
                step.partial.removeSubrange(...newline)
                out += prefix(step) + line + "\n"
                step.lastLines.append(line)
                if step.lastLines.count > 10 { step.lastLines.removeFirst() }
            }
            state.steps[vertex] = step
            return out
        }
        if !text.isEmpty { write(text) }
    }

    func note(_ vertex: Int, _ text: String) {
        let number = state.withLock { $0.steps[vertex]?.number }
        write((number.map { "#\($0) " } ?? "") + text + "\n")
    }

    func finished(_ vertex: Int) {
        let line = state.withLock { state -> String in
            guard var step = state.steps[vertex] else { return "" }
            var out = flush(&step)
            out += "#\(step.number) DONE \(seconds(since: step.started))\n"
            state.steps[vertex] = step
            return out
        }
        write(line)
    }

    func failed(_ vertex: Int, _ message: String) {
        let line = state.withLock { state -> String in
            guard var step = state.steps[vertex] else { return "" }
            var out = flush(&step)
            out += "#\(step.number) ERROR: \(message)\n"
            state.steps[vertex] = step
            return out
        }
        write(line)
    }

    func message(_ text: String) { write(text + "\n") }

    func transfer(_ blob: Digest, _ text: String, milestone: Bool) {
        if milestone { write(text + "\n") }
    }

    func stop() {}

    private func flush(_ step: inout Step) -> String {
        guard !step.partial.isEmpty else { return "" }
        let line = String(decoding: step.partial, as: UTF8.self)
        step.partial.removeAll()
        return prefix(step) + line + "\n"
    }

    private func prefix(_ step: Step) -> String {
        "#\(step.number) " + (clock.now - step.started).fixed(3) + " "
    }

    private func seconds(since start: ContinuousClock.Instant) -> String {
        (clock.now - start).fixed(1) + "s"
    }
}
