import Foundation
package import ImgOCI
package import ImgContent
import ImgContext
package import ImgExport
package import ImgRegistry
import ImgRuntime
package import ImgSnapshot
import Synchronization

/// The front door: one state directory, opened once, and everything that lives in it: the stores, the
/// snapshotter (chosen on first use), the RUN executor, the context checksum cache and registry access.
/// Commands map their flags onto requests (`BuildRequest`) and hand them here; what happens is reported
/// through `BuildProgress` and the `debug` lines.
package final class ImgEngine: Sendable {
    /// The state directory's path; it is created and opened on first use (`state()`), so that a request
    /// refused for its flags leaves nothing behind.
    package let stateDirectory: String
    private let opened = Mutex<StateDirectory?>(nil)
    /// The snapshotter asked for (`-b`); `auto` probes.
    package let backend: BackendChoice
    /// Lines a `-d` user sees.
    package let debug: @Sendable (String) -> Void
    /// Warnings for the user, whatever the progress display (`build-args [...] were not consumed`).
    package let warn: @Sendable (String) -> Void

    package init(stateDirectory: String, backend: BackendChoice = .auto, debug: @escaping @Sendable (String) -> Void = { _ in },
                 warn: @escaping @Sendable (String) -> Void = { _ in }) {
        self.stateDirectory = stateDirectory
        self.backend = backend
        self.debug = debug
        self.warn = warn
    }

    /// The state directory, opened (and created on first use) once.
    package func state() throws -> StateDirectory {
        try opened.withLock { opened in
            if let opened { return opened }
            let state = try StateDirectory(root: stateDirectory)
            opened = state
            return state
        }
    }

    package var layout: StateLayout { StateLayout(root: stateDirectory) }

    /// The snapshot store, its backend chosen as `backend` says (remembered per kernel by `auto`).
    package func snapshots() throws -> SnapshotStore {
        let selected = try SnapshotStore.select(backend, root: layout.snapshotsDirectory, log: debug)
        return try SnapshotStore(root: layout.snapshotsDirectory, backend: selected)
    }

    /// The RUN executor (`runtime`: a path or a name on PATH; runc by default).
    func executor(runtime: String?) throws -> RuncExecutor {
        try RuncExecutor(stateDirectory: layout.root, runtimePath: runtime)
    }

    /// The persistent stat-keyed cache of context checksums.
    func contextChecksums() throws -> ChecksumCache {
        try ChecksumCache(path: layout.contextChecksumsPath)
    }

    /// The fetcher of blobs a lazy cache import left in registries, with clients made as `registryClient`
    /// makes them (the registry's `insecure` setting as recorded with the blob). Shut it down after use.
    package func blobFetcher(state: StateDirectory,
                             onFetched: @escaping @Sendable (Descriptor, BlobLocation, Int64) -> Void = { _, _, _ in })
        -> RegistryBlobFetcher
    {
        RegistryBlobFetcher(state: state, makeClient: { [self] hosts in try registryClient(insecureHosts: hosts) },
                            onFetched: onFetched)
    }

    /// A registry client with img's settings (config.toml) and docker's credentials.
    package func registryClient(insecureHosts: [String] = []) throws -> RegistryClient {
        try RegistryAccess.client(insecureHosts: insecureHosts)
    }
}
