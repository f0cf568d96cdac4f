import Foundation
import ImgArchive
import ImgContent
import ImgExport
import ImgWorker

extension BuildRun {
    /// `cache-mounts=true`: the directories of the cache mounts `ids` that hold something (an empty or
    /// missing one has nothing to seed another machine with).
    static func cacheMountDirectories(_ ids: Set<String>, state: StateDirectory) -> [CacheMountDirectory] {
        ids.sorted().compactMap { id in
            let path = state.layout.cacheMountDirectory(id: id)
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: path), !entries.isEmpty else { return nil }
            return CacheMountDirectory(id: id, path: path)
        }
    }

    /// `compression=`, `compression-level=`, `force-compression=` of a `--cache-to`; a level or
    /// force-compression without a compression means gzip, buildx's default. Nil: layers stay as stored.
    static func cacheCompression(_ spec: CacheExportSpec) -> CacheCompression? {
        guard let compression = spec.compression ?? (spec.compressionLevel != nil || spec.forceCompression ? .gzip : nil) else {
            return nil
        }
        return CacheCompression(compression: compression, level: spec.compressionLevel, force: spec.forceCompression)
    }

    /// How cache mounts are archived: in the cache's compression (else the build's), on every core, times
    /// clamped to `SOURCE_DATE_EPOCH` when set.
    static func cacheMountOptions(_ spec: CacheExportSpec, builds: [PlatformBuild]) -> LayerWriteOptions {
        let build = builds.first?.worker.options
        var options = (cacheCompression(spec)
            ?? CacheCompression(compression: build?.compression ?? .gzip, level: build?.compressionLevel)).writeOptions
        options.sourceDateEpoch = build?.sourceDateEpoch
        return options
    }
}
