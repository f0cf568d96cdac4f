import CArchive
import Glibc
import ImgSystem

/// Reads a tar archive entry by entry, in any compression libarchive detects (gzip, zstd, bzip2, xz, none).
/// Content is streamed in chunks, so memory stays flat whatever the size of the archive.
package final class TarReader {
    private let archive: OpaquePointer
    private let context: ReadContext
    /// Names the archive in errors (`layer sha256:…`, a file path).
    package let label: String?
    private var current: TarEntry?

    /// Reads from `source`.
    package init(source: any ByteSource, label: String? = nil) throws(ArchiveError) {
        self.label = label
        context = ReadContext(source: source)
        guard let a = archive_read_new() else { throw ArchiveError(.format, "cannot allocate a reader", archive: label) }
        archive = a
        archive_read_support_filter_all(a)
        archive_read_support_format_tar(a)
        archive_read_support_format_empty(a)
        let rc = context.open(a)
        guard rc == ARCHIVE_OK else { throw failure(rc, "cannot open") }
    }

    /// Reads the file at `path`.
    package convenience init(path: String, label: String? = nil) throws(ArchiveError) {
        try self.init(source: try FileSource(path: path), label: label ?? path)
    }

    deinit { archive_read_free(archive) }

    /// The next entry's header, or nil at the end. Unread content of the previous entry is skipped.
    package func next() throws(ArchiveError) -> TarEntry? {
        try UTF8Locale.run { () throws(ArchiveError) in try nextInUTF8Locale() }
    }

    private func nextInUTF8Locale() throws(ArchiveError) -> TarEntry? {
        var raw: OpaquePointer?
        let rc = archive_read_next_header(archive, &raw)
        if rc == ARCHIVE_EOF { current = nil; return nil }
        guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN, let raw else { throw failure(rc, "cannot read the next header") }
        let entry = Self.entry(from: raw)
        current = entry
        return entry
    }

    /// Streams the current entry's content to `body` as (bytes, offset in the file). Offsets jump over the
    /// holes of sparse files; callers that write to a file should write at the offset.
    package func readContents(_ body: (UnsafeRawBufferPointer, Int64) throws(ArchiveError) -> Void) throws(ArchiveError) {
        while true {
            var buffer: UnsafeRawPointer?
            var size = 0
            var offset: Int64 = 0
            let rc = archive_read_data_block(archive, &buffer, &size, &offset)
            if rc == ARCHIVE_EOF { return }
            guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN else {
                throw failure(rc, "cannot read content", entry: current?.path)
            }
            if size > 0, let buffer { try body(UnsafeRawBufferPointer(start: buffer, count: size), offset) }
        }
    }

    /// Reads the current entry's whole content into memory (for small files and tests).
    package func readAll() throws(ArchiveError) -> [UInt8] {
        var bytes: [UInt8] = []
        try readContents { (chunk, offset) throws(ArchiveError) in
            let end = Int(offset) + chunk.count
            if bytes.count < end { bytes.append(contentsOf: repeatElement(0, count: end - bytes.count)) }
            bytes.replaceSubrange(Int(offset)..<end, with: chunk)
        }
        if let size = current?.size, bytes.count < Int(size) {
            bytes.append(contentsOf: repeatElement(0, count: Int(size) - bytes.count))
        }
        return bytes
    }

    private func failure(_ rc: Int32, _ what: String, entry: String? = nil) -> ArchiveError {
        if let error = context.error {
            if let e = error as? ArchiveError { return e.labelled(label) }
            return ArchiveError(.stream, "\(what): \(error)", archive: label, entry: entry)
        }
        let detail = archive_error_string(archive).map { String(cString: $0) } ?? "libarchive error \(rc)"
        return ArchiveError(.format, "\(what): \(detail)", archive: label, entry: entry)
    }

    static func entry(from e: OpaquePointer) -> TarEntry {
        let path = string(archive_entry_pathname_utf8(e)) ?? string(archive_entry_pathname(e)) ?? ""
        let hardlink = string(archive_entry_hardlink_utf8(e)) ?? string(archive_entry_hardlink(e))
        let kind: TarEntry.Kind
        if hardlink != nil {
            kind = .hardlink
        } else {
            switch mode_t(archive_entry_filetype(e)) {
            case S_IFDIR: kind = .directory
            case S_IFLNK: kind = .symlink
            case S_IFCHR: kind = .characterDevice
            case S_IFBLK: kind = .blockDevice
            case S_IFIFO: kind = .fifo
            default: kind = .regular
            }
        }
        var entry = TarEntry(path: TarEntry.normalizedPath(path), kind: kind)
        entry.permissions = UInt32(archive_entry_perm(e)) & 0o7777
        entry.uid = UInt32(truncatingIfNeeded: archive_entry_uid(e))
        entry.gid = UInt32(truncatingIfNeeded: archive_entry_gid(e))
        entry.userName = string(archive_entry_uname_utf8(e)).flatMap { $0.isEmpty ? nil : $0 }
        entry.groupName = string(archive_entry_gname_utf8(e)).flatMap { $0.isEmpty ? nil : $0 }
        entry.modificationTime = Timestamp(seconds: Int64(archive_entry_mtime(e)),
                                           nanoseconds: Int32(archive_entry_mtime_nsec(e)))
        entry.size = kind == .regular ? archive_entry_size(e) : 0
        switch kind {
        case .symlink: entry.linkTarget = string(archive_entry_symlink_utf8(e)) ?? string(archive_entry_symlink(e))
        case .hardlink: entry.linkTarget = hardlink.map(TarEntry.normalizedPath)
        case .characterDevice, .blockDevice:
            entry.deviceMajor = UInt32(truncatingIfNeeded: archive_entry_rdevmajor(e))
            entry.deviceMinor = UInt32(truncatingIfNeeded: archive_entry_rdevminor(e))
        default: break
        }
        if archive_entry_xattr_reset(e) > 0 {
            var name: UnsafePointer<CChar>?
            var value: UnsafeRawPointer?
            var size = 0
            while archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK {
                guard let name else { continue }
                let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
                entry.xattrs[String(cString: name)] = bytes
            }
        }
        return entry
    }

    private static func string(_ p: UnsafePointer<CChar>?) -> String? { p.map { String(cString: $0) } }
}

/// Holds the source and its buffer for libarchive's read callback; the callback reports a Swift error here.
final class ReadContext {
    let source: any ByteSource
    let buffer: UnsafeMutableRawBufferPointer
    var error: (any Error)?

    init(source: any ByteSource, bufferSize: Int = 1 << 17) {
        self.source = source
        buffer = .allocate(byteCount: bufferSize, alignment: 16)
    }
    deinit { buffer.deallocate() }

    func open(_ a: OpaquePointer) -> Int32 {
        archive_read_open(a, Unmanaged.passUnretained(self).toOpaque(), nil, { _, client, out in
            let context = Unmanaged<ReadContext>.fromOpaque(client!).takeUnretainedValue()
            do {
                let n = try context.source.read(into: context.buffer)
                out?.pointee = UnsafeRawPointer(context.buffer.baseAddress)
                return n
            } catch {
                context.error = error
                return -1
            }
        }, nil)
    }
}
