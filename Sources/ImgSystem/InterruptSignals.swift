import Dispatch
import Glibc

/// Turns SIGINT, SIGTERM and SIGHUP into a callback instead of death, so a command can cancel its work and
/// let the executor kill containers and unmount before exiting. Keep the returned value alive for as long
/// as the handling should last; dropping it restores the default actions.
package final class InterruptSignals: @unchecked Sendable {
    // Sendable: `sources` is written once in init and only cancelled in deinit.
    private var sources: [any DispatchSourceSignal] = []
    package static let handled: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// `handler` gets the signal number, on a Dispatch queue, for every signal that arrives.
    package init(_ handler: @escaping @Sendable (Int32) -> Void) {
        let queue = DispatchQueue(label: "img.interrupt-signals")
        for number in Self.handled {
            signal(number, SIG_IGN)  // the source sees it; the default action must not run
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { handler(number) }
            source.resume()
            sources.append(source)
        }
    }

    deinit {
        for source in sources { source.cancel() }
        for number in Self.handled { signal(number, SIG_DFL) }
    }
}
