import ArgumentParser
import Foundation
import Img

/// `img load [-i FILE]`: images from a docker or OCI archive (STDIN by default). The archive is unpacked
/// with the same in-root guarantees as a layer, every blob is verified as it enters the store, and names
/// are recorded only once everything is in: a bad archive records nothing.
struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "load", abstract: "Load images from a docker or OCI tar archive (STDIN by default).")

    @OptionGroup var global: GlobalOptions
    @ParentCommand var root: ImgCommand

    @Option(name: [.short, .long], help: ArgumentHelp("Read from a file instead of STDIN.", valueName: "file"))
    var input: String?

    func run() async throws {
        let options = root.global.merged(with: global)
        try await reportingErrors {
            for name in try await options.engine().load(from: input) { print("Loaded image: \(name.familiar)") }
        }
    }
}
