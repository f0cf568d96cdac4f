import Glibc
package import ImgOCI
import ImgSystem

/// How changes become tar entries.
package struct LayerWriteOptions: Sendable, Hashable {
    /// Clamp modification times to this (seconds since the epoch), as `SOURCE_DATE_EPOCH` asks.
    package var sourceDateEpoch: Int64?
    /// Keep nanoseconds in modification times (PAX records); off by default, as docker writes whole
    /// seconds and the headers stay ustar-sized.
    package var preserveSubsecondTimes: Bool
    package var compression: LayerCompression
    /// nil: the compression's default (gzip 6, zstd 3).
    package var compressionLevel: Int?
    /// gzip on every core in blocks of this many bytes (`CompressingSink.defaultGzipBlockSize` is a good
    /// value); nil: one single-threaded gzip stream, as docker writes.
    package var gzipBlockSize: Int?
    /// zstd on this many worker threads (see `CompressingSink`); nil: zstd on the calling thread only.
    package var zstdWorkers: Int?
    /// Owners are translated from host ids back to the image's (diffing from outside a user namespace).
    /// A host id the map does not cover is an error: writing it would leak a host id into the image.
    package var idMap: IDMap?

    package init(sourceDateEpoch: Int64? = nil, preserveSubsecondTimes: Bool = false, compression: LayerCompression = .gzip,
                 compressionLevel: Int? = nil, gzipBlockSize: Int? = nil, zstdWorkers: Int? = nil, idMap: IDMap? = nil) {
        self.idMap = idMap
        self.zstdWorkers = zstdWorkers
        self.sourceDateEpoch = sourceDateEpoch
        self.preserveSubsecondTimes = preserveSubsecondTimes
        self.compression = compression
        self.compressionLevel = compressionLevel
        self.gzipBlockSize = gzipBlockSize
    }

    /// `SOURCE_DATE_EPOCH` from an environment, when it is a valid number.
    package static func sourceDateEpoch(from environment: [String: String]) -> Int64? {
        environment["SOURCE_DATE_EPOCH"].flatMap { Int64($0) }
    }

    func time(_ t: Timestamp) -> Timestamp {
        var t = t
        if !preserveSubsecondTimes { t.nanoseconds = 0 }
        if let epoch = sourceDateEpoch, t > Timestamp(seconds: epoch) { t = Timestamp(seconds: epoch) }
        return t
    }
}

/// Writes changes as a layer tar: entries in the changes' order, numeric owners, whiteouts for deletions,
/// and a second path to an inode already written (within this layer) as a hardlink to the first.
package enum LayerWriter {
    /// Writes the uncompressed tar of `changes`, reading file content from `upper`.
    package static func writeTar(_ changes: [LayerChange], from upper: String, to sink: any ByteSink,
                                 options: LayerWriteOptions = .init(), label: String? = nil) throws(ArchiveError) {
        let tar = try TarWriter(sink: sink, label: label)
        let root: RootedDirectory
        do { root = try RootedDirectory(path: upper) } catch {
            throw ArchiveError(.io, "cannot open the directory", archive: label ?? upper, cause: error)
        }
        var inodes: [InodeKey: String] = [:]
        for change in changes {
            try write(change, root: root, tar: tar, inodes: &inodes, options: options, label: label ?? upper)
        }
        try tar.finish()
    }

    /// Writes `changes` compressed into `output` and returns digest, size and diffID from the same pass.
    package static func write(_ changes: [LayerChange], from upper: String, to output: any ByteSink,
                              options: LayerWriteOptions = .init(), label: String? = nil) throws(ArchiveError) -> BlobDigests {
        let sink = try CompressingSink(compression: options.compression, level: options.compressionLevel,
                                       gzipBlockSize: options.gzipBlockSize, zstdWorkers: options.zstdWorkers, output: output, label: label)
        try writeTar(changes, from: upper, to: sink, options: options, label: label)
        return try sink.finish()
    }

    struct InodeKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    private static func marker(_ path: String, _ name: String, _ options: LayerWriteOptions) -> TarEntry {
        TarEntry(path: path, kind: .regular, permissions: 0o644, modificationTime: options.time(Timestamp(seconds: 0)))
    }

    private static func write(_ change: LayerChange, root: RootedDirectory, tar: TarWriter, inodes: inout [InodeKey: String],
                              options: LayerWriteOptions, label: String) throws(ArchiveError) {
        let components = change.path.split(separator: "/").map(String.init)
        switch change.kind {
        case .deleted:
            let name = Whiteout.name(for: components.last ?? "")
            let path = (components.dropLast() + [name]).joined(separator: "/")
            try tar.writeHeader(marker(path, name, options))
            return
        case .opaque:
            try tar.writeHeader(marker((components + [Whiteout.opaque]).joined(separator: "/"), Whiteout.opaque, options))
            return
        case .added, .modified, .parent:
            break
        }
        guard let status = change.status else {
            throw ArchiveError(.format, "change without file status", archive: label, entry: change.path)
        }
        var (uid, gid) = (status.uid, status.gid)
        if let map = options.idMap {
            guard let u = map.containerUID(uid), let g = map.containerGID(gid) else {
                throw ArchiveError(.unsupported, "has host owner \(uid):\(gid), outside the id map", archive: label, entry: change.path)
            }
            (uid, gid) = (u, g)
        }
        var entry = TarEntry(path: change.path, kind: .regular, permissions: status.permissions, uid: uid, gid: gid,
                             modificationTime: options.time(status.modificationTime), xattrs: change.xattrs)
        switch status.kind {
        case .directory: entry.kind = .directory
        case .symlink:
            entry.kind = .symlink
            entry.linkTarget = change.linkTarget
        case .characterDevice, .blockDevice:
            entry.kind = status.kind == .characterDevice ? .characterDevice : .blockDevice
            entry.deviceMajor = status.deviceMajor
            entry.deviceMinor = status.deviceMinor
        case .fifo: entry.kind = .fifo
        case .socket: return
        case .regular:
            if status.linkCount > 1 {
                let key = InodeKey(device: status.device, inode: status.inode)
                if let first = inodes[key] {
                    entry.kind = .hardlink
                    entry.linkTarget = first
                    try tar.writeHeader(entry)
                    return
                }
                inodes[key] = change.path
            }
            entry.size = status.size
            let parent: OpenDirectory
            do { (parent, _) = try root.openParent(components) } catch {
                throw ArchiveError(.io, "cannot open the parent directory", archive: label, entry: change.path, cause: error)
            }
            let fd = openat(parent.fd, components.last!, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { throw ArchiveError(.io, "cannot open", archive: label, entry: change.path, cause: .errno("open")) }
            defer { close(fd) }
            try tar.write(entry, contentsOf: fd)
            return
        }
        try tar.writeHeader(entry)
    }
}

/// Layer exports: a diff or a whole tree written as a compressed layer in one pass.
package enum LayerExport {
    /// The layer that turns `lower` (nil: nothing) into `upper`.
    package static func diff(lower: String?, upper: String, to output: any ByteSink, options: LayerWriteOptions = .init(),
                             label: String? = nil) throws(ArchiveError) -> BlobDigests {
        let changes = try LayerDiff.changes(lower: lower, upper: upper)
        return try LayerWriter.write(changes, from: upper, to: output, options: options, label: label)
    }

    /// The layer an overlayfs upper directory records (`lowers`: see `LayerDiff.overlayChanges`).
    package static func overlayDiff(upper: String, lowers: [String] = [], to output: any ByteSink, options: LayerWriteOptions = .init(),
                                    label: String? = nil) throws(ArchiveError) -> BlobDigests {
        let changes = try LayerDiff.overlayChanges(upper: upper, lowers: lowers)
        return try LayerWriter.write(changes, from: upper, to: output, options: options, label: label)
    }

    /// A whole directory tree as one layer (gzip by default): what the benchmark times.
    package static func directory(_ path: String, to output: any ByteSink, options: LayerWriteOptions = .init()) throws(ArchiveError) -> BlobDigests {
        try diff(lower: nil, upper: path, to: output, options: options, label: path)
    }

    /// A whole directory tree as one layer written to the file `destination`.
    package static func directory(_ path: String, toFile destination: String, options: LayerWriteOptions = .init()) throws(ArchiveError) -> BlobDigests {
        let out = try FileSink(creating: destination)
        defer { out.close() }
        return try directory(path, to: out, options: options)
    }
}
