import Foundation
import Glibc
import ImgArchive
package import ImgContent
import ImgOCI

extension CacheImporter {
    /// `cache-mounts=true` on the other side: fills the empty (or missing) cache mount `directory` with the
    /// blob this cache holds for `id`, verified against its digest and diffID. A bad blob is one warning
    /// and the mount starts empty; a mount something else filled meanwhile is left as it is.
    package func seedCacheMount(_ id: String, into directory: String, state: StateDirectory) async -> Bool {
        guard let mounts = config.cacheMounts, mounts.version == CacheConfig.CacheMounts.currentVersion,
              let mount = mounts.mounts.first(where: { $0.id == id }) else { return false }
        let task = seeding.withLock { running in
            if let task = running[id] { return task }
            let task = Task {
                do {
                    try await unpack(mount, into: directory, state: state)
                    return true
                } catch {
                    let line = "warning: \(label): cache mount \(id.replacingOccurrences(of: "\u{0}", with: " ")): \(error); the mount starts empty"
                    if warned.withLock({ $0.insert(line).inserted }) { warn(line) }
                    return false
                }
            }
            running[id] = task
            return task
        }
        return await task.value
    }

    private func unpack(_ mount: CacheConfig.CacheMount, into directory: String, state: StateDirectory) async throws {
        guard let blob = blobs[mount.blob] else {
            throw ExportError(.invalidCache, "blob \(mount.blob) is not in the cache manifest")
        }
        // Into the content store first: the copy or download checks the digest.
        _ = try await store.ingest(blob, into: state)
        let parent = URL(filePath: directory).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        // Unpacked beside the mount and renamed into place, so a blob that fails half way leaves nothing.
        let staging = parent + "/.seed-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        _ = try LayerApplier.apply(layerAt: state.content.path(for: blob.digest), to: staging,
                                   options: LayerApplyOptions(whiteouts: .literal), expectedDiffID: mount.diffID,
                                   label: "blob \(blob.digest)")
        // rename(2) replaces an empty directory and refuses a non-empty one: a step that filled the mount
        // first keeps what it wrote.
        if rename(staging, directory) != 0, errno != ENOTEMPTY, errno != EEXIST {
            throw ExportError(.writeFailed, "cannot move the cache mount into \(directory): \(String(cString: strerror(errno)))")
        }
    }
}
