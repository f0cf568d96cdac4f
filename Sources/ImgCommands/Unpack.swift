import ArgumentParser
import Foundation
import ImgArchive
import ImgContent
import ImgExport
import ImgSnapshot
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
            let diffIDs = image.config.rootfs.diffIDs
            guard diffIDs.count == image.manifest.layers.count else {
                throw CommandError("image \(image.record.name.familiar): config lists \(diffIDs.count) diff_ids for \(image.manifest.layers.count) layers")
            }
            // The layers go into the snapshot store (kept for builds and later unpacks), then the merged
            // tree is copied out.
            let snapshots = state.layout.snapshotsDirectory
            let backend = try SnapshotStore.select(options.backend.choice, root: snapshots, log: { [log] in log.debug($0) })
            let store = try SnapshotStore(root: snapshots, backend: backend)
            let blobs = zip(image.manifest.layers, diffIDs).map { layer, diffID in
                LayerBlob(path: state.content.path(for: layer.digest), diffID: diffID, label: "layer \(layer.digest)")
            }
            let snapshot = try await store.prepare(blobs)
            let destination = try RootfsDestination.prepare(target, debug: { log.debug($0) })
            do {
                try await store.export(snapshot, into: target)
                try destination.seal()
            } catch {
                // Leave nothing half-written behind (and an empty directory the caller made as it was).
                if destination.created { destination.discard() } else { try? Self.empty(target) }
                throw error
            }
            print("Unpacked \(image.record.name.familiar) to \(output)")
        }
    }

    /// Removes everything inside `directory`, keeping it.
    private static func empty(_ directory: String) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            try FileManager.default.removeItem(atPath: directory + "/" + name)
        }
    }
}
