import ArgumentParser
import Img
import ImgOCI
import ImgRegistry

/// `img push NAME[:TAG]`: upload an image from the store; blobs the registry has are skipped.
struct Push: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "push", abstract: "Push an image or a repository to a registry.")

    @OptionGroup var global: GlobalOptions
    @ParentCommand var root: ImgCommand

    @Flag(help: "Allow plain HTTP or unverified TLS for this registry.")
    var insecureRegistry = false

    @Argument(help: ArgumentHelp("Image to push.", valueName: "NAME[:TAG]")) var image: String

    func run() async throws {
        let options = root.global.merged(with: global)
        try await reportingErrors {
            let reference = try parseReference(image).withDefaultTag
            let display = TransferDisplay()
            let (record, digest) = try await TransferProgress.$observer.withValue(display) {
                defer { display.stop() }
                return try await options.engine().push(reference, insecure: insecureRegistry, started: {
                    print("The push refers to repository [\(reference.name)]")
                }, onBlob: { display.status($0, Self.word(for: $1)) })
            }
            print("\(reference.tag ?? "latest"): digest: \(digest) size: \(record.descriptor.size)")
        }
    }

    /// A layer's last word, as docker prints it.
    static func word(for outcome: BlobPushOutcome) -> String {
        switch outcome {
        case .existed: "Layer already exists"
        case .mounted(let from): "Mounted from \(from)"
        case .uploaded: "Pushed"
        }
    }
}
