import ArgumentParser
import Foundation
import ImgArchive
import ImgContent
import ImgExport
import ImgOCI
import ImgSystem

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
            let state = try options.openState()
            let label = input ?? "STDIN"
            try await WorkDirectory.with(state, "load") { work in
                var archive = input ?? work.file("input.tar")
                if input == nil {
                    let sink = try FileSink(creating: archive)
                    let stdin = FileHandle.standardInput
                    while let chunk = try stdin.read(upToCount: 1 << 20), !chunk.isEmpty {
                        try chunk.withUnsafeBytes { try sink.write($0) }
                    }
                    sink.close()
                } else {
                    archive = URL(filePath: archive).standardizedFileURL.path
                }
                let loaded = try await ImageArchive.load(archive, label: label, into: state, work: work)
                for name in loaded { print("Loaded image: \(name.familiar)") }
            }
        }
    }
}
