import Foundation
package import ImgFrontend

extension BuildWorker {
    /// The id a `RUN --mount=type=cache` is kept under: its `id=`, else its target (absolute); nil for a
    /// mount of another kind.
    ///
    ///
    /// The owner and mode are part of a cache's identity, as in BuildKit (whose frontend starts the cache from a
    /// directory made with them): `uid=0` and `uid=10` on one id are two caches. The defaults (uid 0, gid 0,
    /// mode 0755) are the plain id.
    package static func cacheMountID(_ mount: ExecOp.Mount) -> String? {
        guard mount.kind == .cache, let target = mount.target else { return nil }
        let id = mount.id ?? (target.hasPrefix("/") ? target : "/" + target)
        let (uid, gid, mode) = (mount.uid ?? 0, mount.gid ?? 0, mount.mode ?? 0o755)
        if uid == 0, gid == 0, mode == 0o755 { return id }
        return id + "\u{0}uid=\(uid),gid=\(gid),mode=\(String(mode, radix: 8))"
    }

    /// The cache mount ids the RUN steps among `vertices` (nil: all) of `definition` use, each once, sorted.
    package static func cacheMountIDs(_ definition: BuildDefinition, vertices: Set<Int>?) -> [String] {
        var ids: Set<String> = []
        for vertex in definition.graph.vertices where vertices?.contains(vertex.id) ?? true {
            guard case .exec(let exec) = vertex.operation.op else { continue }
            ids.formUnion(exec.mounts.compactMap(cacheMountID))
        }
        return ids.sorted()
    }

    /// Whether a cache mount's directory has nothing to keep: missing, or empty.
    static func isMissingOrEmpty(_ directory: String) -> Bool {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            return !FileManager.default.fileExists(atPath: directory)
        }
        return entries.isEmpty
    }
}
