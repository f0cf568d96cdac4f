import ImgSystem

/// Plain tar archives of directory trees (rootfs `type=tar` exports, fixtures): deterministic to create,
/// safe to extract, no whiteout meaning.
package enum TreeArchive {
    /// Writes `directory` as an uncompressed deterministic tar (entries sorted, numeric owners).
    package static func create(from directory: String, to sink: any ByteSink, sourceDateEpoch: Int64? = nil,
                               preserveSubsecondTimes: Bool = false) throws(ArchiveError) {
        let changes = try LayerDiff.changes(lower: nil, upper: directory)
        let options = LayerWriteOptions(sourceDateEpoch: sourceDateEpoch, preserveSubsecondTimes: preserveSubsecondTimes,
                                        compression: .uncompressed)
        try LayerWriter.writeTar(changes, from: directory, to: sink, options: options, label: directory)
    }

    /// Extracts the tar at `path` (any compression) into `directory`, with the same in-root guarantees as
    /// a layer apply; `.wh.` files are extracted as ordinary files.
    package static func extract(from path: String, into directory: String,
                                options: LayerApplyOptions = .init(whiteouts: .literal)) throws(ArchiveError) -> LayerApplySummary {
        var options = options
        options.whiteouts = .literal
        return try LayerApplier.apply(layerAt: path, to: directory, options: options)
    }
}
