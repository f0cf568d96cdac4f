import ArgumentParser
import Foundation
import ImgSnapshot

/// The snapshotter (`-b`): `auto` probes overlayfs, then fuse-overlayfs, then native (see `SnapshotStore.select`).
enum Backend: String, ExpressibleByArgument, CaseIterable, Sendable {
    case auto, native, overlayfs
    case fuseOverlayfs = "fuse-overlayfs"

    var choice: BackendChoice {
        switch self {
        case .auto: .auto
        case .native: .native
        case .overlayfs: .overlayfs
        case .fuseOverlayfs: .fuseOverlayfs
        }
    }
}

/// Flags every command accepts, before or after the command name (`img -d build` and `img build -d`).
struct GlobalOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Snapshot backend: auto, native, overlayfs or fuse-overlayfs.")
    var backend: Backend = .auto

    @Flag(name: [.short, .long], help: "Print debug output.")
    var debug = false

    @Option(name: [.short, .long], help: ArgumentHelp("Directory for img's state (default $XDG_DATA_HOME/img).", valueName: "dir"))
    var state: String?

    /// Combines the options given before the command name with those given after it; the later wins.
    func merged(with later: GlobalOptions) -> GlobalOptions {
        var out = self
        if later.backend != .auto { out.backend = later.backend }
        if later.debug { out.debug = true }
        if let state = later.state { out.state = state }
        return out
    }

    /// The state directory: `-s`, else `$XDG_DATA_HOME/img`, else `~/.local/share/img`.
    func stateDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let state, !state.isEmpty {
            return URL(filePath: state, directoryHint: .isDirectory).standardizedFileURL
        }
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") {
            return URL(filePath: xdg, directoryHint: .isDirectory).appending(path: "img")
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return URL(filePath: home, directoryHint: .isDirectory).appending(path: ".local/share/img")
    }
}
