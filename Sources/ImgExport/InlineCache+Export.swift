import Foundation
package import ImgContent
package import ImgOCI

extension InlineCache {
    /// The inline cache of the image whose config is `image`: one record per step of `steps` (each key
    /// once, in key order, linked to the record of the step it was made on), for the steps whose result is
    /// a start of the image: its diff_ids and history are the first of the image's. Those are the steps of
    /// mode=min; a step that is not (none in a target chain) is left out, and on the next machine it runs.
    package static func records(_ steps: [CachedStep], image: ImageConfig, content: ContentStore) throws -> [Record] {
        var byKey: [Digest: CachedStep] = [:]
        for step in steps where byKey[step.key] == nil { byKey[step.key] = step }
        var records: [Record] = []
        var parents: [Digest?] = []
        for step in byKey.values.sorted(by: { $0.key.description < $1.key.description }) {
            let manifest: Manifest
            let config: ImageConfig
            do {
                manifest = try JSONDecoder().decode(Manifest.self, from: content.data(for: step.manifest.digest))
                config = try JSONDecoder().decode(ImageConfig.self, from: content.data(for: manifest.config.digest))
            } catch {
                throw ExportError(.missingBlob, "cannot read the cache record of \(step.key): \(error)")
            }
            let diffIDs = config.rootfs.diffIDs
            guard diffIDs.count == manifest.layers.count, image.rootfs.diffIDs.starts(with: diffIDs) else { continue }
            if let history = config.history {
                guard let all = image.history, all.starts(with: history) else { continue }
            }
            var own = config
            own.rootfs.diffIDs = []
            own.history = nil
            let created = config.history?.last?.created ?? config.created
            records.append(Record(
                digest: step.key,
                results: diffIDs.isEmpty ? [] : [CacheConfig.Result(layer: diffIDs.count - 1, createdAt: created)],
                config: manifest.config.digest, image: own, history: config.history?.count))
            parents.append(step.parent)
        }
        let index = Dictionary(uniqueKeysWithValues: records.enumerated().map { ($1.digest, $0) })
        for (position, parent) in parents.enumerated() {
            if let parent, let link = index[parent] { records[position].inputs = [[CacheConfig.Input(link: link)]] }
        }
        return records
    }
}
