import Glibc
package import ImgArchive
package import ImgOCI
import ImgSystem

extension SnapshotStore {
    /// A writable rootfs over `parent`: overlay backends mount the chain's layer directories under a fresh
    /// upper directory; native copies the parent's tree (reflink or copy_file_range where possible).
    package func workspace(on parent: Snapshot) async throws(SnapshotError) -> Workspace {
        let chains = ChainID.prefixes(parent.diffIDs)
        for chainID in backend.format == .overlay ? chains : Array(chains.suffix(1)) where !exists(chainID) {
            throw SnapshotError(.notFound, "snapshot \(chainID) is not in \(root) (prepare it first)")
        }
        let directory = try makeWorkDirectory("ws")
        do {
            switch backend {
            case .native:
                let rootfs = directory + "/fs"
                try Self.makeDirectory(rootfs)
                if let chainID = parent.chainID { try TreeCopy.copy(from: tree(chainID), to: rootfs) }
                return Workspace(rootfs: rootfs, parent: parent, backend: backend, directory: directory, upper: nil)
            case .overlayfs, .fuseOverlayfs:
                let (upper, work, rootfs, links) = (directory + "/upper", directory + "/work", directory + "/rootfs", directory + "/l")
                for path in [upper, work, rootfs, links] { try Self.makeDirectory(path) }
                var lowers = Self.visibleLowers(chains.reversed().map { tree($0) })
                if lowers.isEmpty {
                    // Overlayfs needs a lower directory; the empty filesystem is an empty one.
                    try Self.makeDirectory(directory + "/empty")
                    lowers = [directory + "/empty"]
                }
                if backend == .overlayfs {
                    let volatile = try KernelOverlay.mount(lowers: lowers, upper: upper, work: work, target: rootfs, scratch: links)
                    mounted[directory] = .kernel(target: rootfs, volatile: volatile)
                } else {
                    mounted[directory] = .fuse(try FuseOverlayProcess.start(lowers: lowers, upper: upper, work: work, target: rootfs))
                }
                return Workspace(rootfs: rootfs, parent: parent, backend: backend, directory: directory, upper: upper)
            }
        } catch {
            unmount(directory)
            Self.remove(directory)
            throw error
        }
    }

    /// The lower directories (top-most first) down to the first whose root is opaque. Overlayfs never reads
    /// the opaque mark of a layer's root directory (the root stacks every lower), so a layer whose tar has
    /// `.wh..wh..opq` at its top would hide nothing there, unlike on fuse-overlayfs and native; the layers
    /// it hides are left out of the mount instead.
    static func visibleLowers(_ lowers: [String]) -> [String] {
        guard let index = lowers.firstIndex(where: isOpaqueRoot) else { return lowers }
        return Array(lowers[...index])
    }

    private static func isOpaqueRoot(_ tree: String) -> Bool {
        let fd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return OverlayUpper.opaqueMarks.contains { (try? ExtendedAttributes.value(at: fd, ".", attribute: $0)) == Array("y".utf8) }
    }

    /// What changed in the workspace, as a deterministic layer tar into `output`. Overlay: the upper
    /// directory (0/0 devices and whiteout xattrs become `.wh.` entries, opaque directories `.wh..wh..opq`);
    /// native: a comparison with the parent's tree.
    ///
    /// Nonisolated: it reads only the workspace and the immutable parent, and `output` (not Sendable) stays
    /// with the caller.
    package nonisolated func diff(_ workspace: Workspace, to output: any ByteSink, options: LayerWriteOptions) async throws(SnapshotError) -> BlobDigests {
        let label = "workspace \(workspace.directory)"
        do {
            if let upper = workspace.upper {
                let lowers = ChainID.prefixes(workspace.parent.diffIDs).map { tree($0) }
                return try LayerExport.overlayDiff(upper: upper, lowers: lowers.isEmpty ? [workspace.directory + "/empty"] : lowers,
                                                   to: output, options: options, label: label)
            }
            let lower = workspace.parent.chainID.map { tree($0) }
            return try LayerExport.diff(lower: lower, upper: workspace.rootfs, to: output, options: options, label: label)
        } catch {
            throw SnapshotError(.layer, "cannot write the diff of \(workspace.rootfs)", cause: error)
        }
    }

    /// Keeps the workspace's change as the snapshot for `parent.diffIDs + [diffID]` (no re-apply), then
    /// releases the workspace. If that chain already exists, just releases.
    package func commit(_ workspace: Workspace, diffID: Digest) async throws(SnapshotError) -> Snapshot {
        let snapshot = Snapshot(diffIDs: workspace.parent.diffIDs + [diffID])
        let chainID = snapshot.chainID!
        defer { release(workspaceDirectory: workspace.directory) }
        guard !exists(chainID) else { return snapshot }
        guard access(workspace.directory, F_OK) == 0 else {
            throw SnapshotError(.notFound, "workspace \(workspace.directory) was already released")
        }
        let volatile = if case .kernel(_, true) = mounted[workspace.directory] { true } else { false }
        unmount(workspace.directory)
        let built = try makeWorkDirectory("commit")
        do throws(SnapshotError) {
            switch workspace.backend.format {
            case .overlay:
                // The upper directory already is a layer in overlay form.
                let upper = workspace.upper!
                try OverlayUpper.normalize(upper)
                guard rename(upper, built + "/fs") == 0 else { throw SnapshotError(.io, "cannot keep \(upper)", cause: SystemError.errno("rename")) }
            case .native:
                guard rename(workspace.rootfs, built + "/fs") == 0 else {
                    throw SnapshotError(.io, "cannot keep \(workspace.rootfs)", cause: SystemError.errno("rename"))
                }
            }
            try Self.writeDiffIDs(snapshot.diffIDs, into: built)
            if volatile { try markUnsynced(chainID) }
            try publish(built, as: chainID)
        } catch {
            Self.remove(built)
            throw error
        }
        return snapshot
    }

    /// Copies the snapshot's merged tree into the existing empty `directory` (`img unpack`), reflinked
    /// where the file system allows.
    package func export(_ snapshot: Snapshot, into directory: String) async throws(SnapshotError) {
        guard let chainID = snapshot.chainID else { return }
        if backend == .native {
            guard exists(chainID) else { throw SnapshotError(.notFound, "snapshot \(chainID) is not in \(root)") }
            return try TreeCopy.copy(from: tree(chainID), to: directory)
        }
        let workspace = try await self.workspace(on: snapshot)
        defer { release(workspaceDirectory: workspace.directory) }
        try TreeCopy.copy(from: workspace.rootfs, to: directory)
    }

    /// Unmounts and removes the workspace's temp dirs. Safe to call twice.
    package func release(_ workspace: Workspace) async {
        release(workspaceDirectory: workspace.directory)
    }

    func release(workspaceDirectory directory: String) {
        if mounted[directory] != nil {
            unmount(directory)
        } else if ((try? MountInfoEntry.current()) ?? []).contains(where: { $0.mountPoint == directory + "/rootfs" }) {
            // Mounted by another store value of this process: unmount anyway, never delete through a mount.
            if (try? Mount.unmount(directory + "/rootfs")) == nil { try? Mount.unmount(directory + "/rootfs", detach: true) }
        }
        Self.remove(directory)
    }

    /// Ends the workspace's mount, if it has one.
    func unmount(_ directory: String) {
        guard let mount = mounted.removeValue(forKey: directory) else { return }
        switch mount {
        case .kernel(let target, _):
            // Busy only if something still runs in it; detach then, so nothing outlives the workspace.
            if (try? Mount.unmount(target)) == nil { try? Mount.unmount(target, detach: true) }
        case .fuse(let process):
            process.stop()
        }
    }
}
