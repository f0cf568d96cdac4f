import ArgumentParser
import Foundation
import ImgArchive
import ImgContent
import ImgSystem

/// `img unpack IMAGE [-o DIR]`: the image's filesystem, layers applied in order with whiteouts, as a
/// directory. As an ordinary user it runs inside img's user namespace, so files owned by 0, 1 or 1000 in
/// the image keep those owners (mapped through /etc/subuid).
struct Unpack: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Unpack an image to a rootfs directory.")

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
            do { try UserNamespace.enterIfNeeded() } catch {
                // Without a subuid range the owners cannot all be kept; unpack anyway, owners best effort.
                log.debug("not entering a user namespace (\(error)); file owners will be the caller's")
            }
            let state = try options.openState()
            let image = try await StoredImage.load(self.image, platform: platform, state: state)
            let target = URL(filePath: output, directoryHint: .isDirectory).standardizedFileURL.path
            let fm = FileManager.default
            var isDirectory: ObjCBool = false
            if fm.fileExists(atPath: target, isDirectory: &isDirectory) {
                guard isDirectory.boolValue, (try? fm.contentsOfDirectory(atPath: target))?.isEmpty == true else {
                    throw CommandError("cannot unpack into \(output): it exists and is not an empty directory")
                }
            }
            try fm.createDirectory(atPath: target, withIntermediateDirectories: true)
            let diffIDs = image.config.rootfs.diffIDs
            guard diffIDs.count == image.manifest.layers.count else {
                throw CommandError("image \(image.record.name.familiar): config lists \(diffIDs.count) diff_ids for \(image.manifest.layers.count) layers")
            }
            do {
                var warnings = 0
                for (layer, diffID) in zip(image.manifest.layers, diffIDs) {
                    let summary = try LayerApplier.apply(
                        layerAt: state.content.path(for: layer.digest), to: target, expectedDiffID: diffID,
                        label: "layer \(layer.digest)")
                    for warning in summary.warnings { log.debug("\(warning)") }
                    warnings += summary.warnings.count
                }
                if warnings > 0 { StandardError.print("warning: \(warnings) entries could not be applied exactly (see --debug)") }
            } catch {
                // Leave nothing half-written behind.
                try? fm.removeItem(atPath: target)
                throw error
            }
            print("Unpacked \(image.record.name.familiar) to \(output)")
        }
    }
}
