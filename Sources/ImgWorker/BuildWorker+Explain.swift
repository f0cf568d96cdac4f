import Foundation
import ImgFrontend
import ImgGraph
import ImgOCI
import ImgSystem

/// Why a step missed the cache: each step's key components are remembered per Dockerfile step, and a miss
/// names the ones that differ from the last build of that step (what BuildKit and buildah users ask for).
extension BuildWorker {
    /// Says why `step` is running instead of coming from the cache.
    func explainMiss(_ vertex: Int, _ step: BuildStep, _ key: CacheKeyBuilder) {
        let reason: String
        if options.noCache {
            reason = "--no-cache"
        } else if ignoresCache(step) {
            reason = "--no-cache-filter \(step.stageName ?? "")"
        } else if let data = FileManager.default.contents(atPath: explanationPath(step)),
                  let previous = try? JSONDecoder().decode([String: String].self, from: data) {
            reason = Self.describe(CacheKeyBuilder.changedFields(previous, key.components))
        } else {
            reason = "no earlier build of this step"
        }
        progress.note(vertex, "cache miss: \(reason)")
    }

    /// Remembers the components of the key this step used, for the next build's explanation.
    func rememberKey(_ step: BuildStep, _ key: CacheKeyBuilder) {
        let path = explanationPath(step)
        let directory = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let data = try? encoder.encode(key.components) else { return }
        // A rebuild of the same step with the same key (every cached step) finds the record as it is.
        if FileManager.default.contents(atPath: path) == data { return }
        // Written to a temp file and renamed: two builds at once leave one whole record, never half. Not
        // fsynced: it only explains a later miss, and a record lost in a crash reads as "never recorded".
        let temporary = path + ".tmp-\(ProcessOwners.token)-\(UUID().uuidString.prefix(8))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        if written != data.count || rename(temporary, path) != 0 { unlink(temporary) }
    }

    private func explanationPath(_ step: BuildStep) -> String {
        let identity = [options.dockerfileName, step.stageName ?? String(step.stageIndex), String(step.number)]
            .joined(separator: "\u{0}")
        return state.layout.cacheExplainDirectory + "/" + Digest.sha256(of: Array(identity.utf8)).hex + ".json"
    }

    static func describe(_ fields: [String]) -> String {
        if fields.isEmpty { return "the cached result is gone (pruned) or was never recorded" }
        // A changed parent explains everything after it: say only that.
        if fields.contains("parent") { return "the step before it changed" }
        let names: [String: String] = [
            "checksum": "the files it copies changed",
            "command": "the command changed",
            "env": "ENV or ARG values changed",
            "workdir": "WORKDIR changed",
            "user": "USER changed",
            "network": "--network changed",
            "add-host": "--add-host changed",
            "shm-size": "--shm-size changed",
            "ulimit": "--ulimit changed",
            "mount": "its --mount options changed",
            "platform": "the platform changed",
            "manifest": "the base image changed",
            "from-stage": "the stage it copies from changed",
            "from-image": "the image it copies from changed",
            "stage-input": "a stage it mounts changed",
            "heredoc": "a heredoc changed",
            "kind": "the instruction changed",
        ]
        return fields.map { names[$0] ?? "\($0) changed" }.joined(separator: ", ")
    }
}
