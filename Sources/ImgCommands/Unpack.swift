import ArgumentParser
import Foundation
import Img
import ImgOCI
import ImgSystem

/// `img unpack IMAGE [-o DIR]`: the image's filesystem, layers applied in order with whiteouts, as a
/// directory. As an ordinary user it runs inside img's user namespace, so files owned by 0, 1 or 1000 in
/// the image keep those owners (mapped through /etc/subuid).
struct Unpack: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unpack", abstract: "Unpack an image to a rootfs directory.")

    @OptionGroup var global: GlobalOptions
    @ParentCommand var root: ImgCommand

    @Option(name: [.short, .long], help: ArgumentHelp("Directory to unpack into; must not exist or be empty.", valueName: "dir"))
    var output = "rootfs"

    @Option(help: ArgumentHelp("Platform to unpack from a multi-platform image (default: the host's).", valueName: "os/arch[/variant]"))
    var platform: String?

    @Argument(help: ArgumentHelp("Image to unpack.", valueName: "IMAGE")) var image: String

    func run() async throws {
        let options = root.global.merged(with: global)
        let log = CommandLog(debug: options.debug)
        try await reportingErrors {
            do { try UserNamespace.enterIfNeeded(privateMountsForRoot: true) } catch {
                // Without a subuid range the owners cannot all be kept; unpack anyway, owners best effort.
                log.debug("not entering a user namespace (\(error)); file owners will be the caller's")
            }
            let name = try await options.engine(log: log).unpack(image, platform: platform, into: output) { reference in
                StandardError.print("Unable to find image '\(reference.familiar)' in the store: pulling it")
            }
            print("Unpacked \(name.familiar) to \(output)")
        }
    }
}
