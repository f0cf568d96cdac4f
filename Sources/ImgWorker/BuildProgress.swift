package import Foundation

/// Where a build reports what happens; the command turns these into BuildKit-like output.
package protocol BuildProgress: Sendable {
    func started(_ vertex: Int, title: String)
    func cached(_ vertex: Int)
    func output(_ vertex: Int, _ bytes: [UInt8])
    /// A note about the step (cache-miss reason, a warning), shown in plain output and with --debug.
    func note(_ vertex: Int, _ text: String)
    func finished(_ vertex: Int)
    func failed(_ vertex: Int, _ message: String)
    /// Build-level lines (`exporting to image`, ...).
    func message(_ text: String)
}
