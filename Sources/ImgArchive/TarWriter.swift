import CArchive
import Glibc
import ImgSystem

/// Writes a PAX tar to a sink: ustar headers, with PAX records only where ustar cannot say it (long or
/// non-ASCII names, large ids, sub-second times, xattrs). Owners are numeric with empty names, xattrs go in
/// `SCHILY.xattr` records (what Go, GNU tar and libarchive read), atime/ctime are never stored, and the
/// output ends after the two zero blocks (no padding to 10 KiB): the same entries always give the same
/// bytes.
package final class TarWriter {
    private let archive: OpaquePointer
    private let context: WriteContext
    package let label: String?
    private var remaining: Int64 = 0
    private var currentPath: String?
    private var finished = false

    package init(sink: any ByteSink, label: String? = nil) throws(ArchiveError) {
        self.label = label
        context = WriteContext(sink: sink)
        guard let a = archive_write_new() else { throw ArchiveError(.format, "cannot allocate a writer", archive: label) }
        archive = a
        archive_write_set_format_pax(a)
        archive_write_set_format_option(a, "pax", "xattrheader", "SCHILY")
        archive_write_set_bytes_per_block(a, 1 << 16)
        archive_write_set_bytes_in_last_block(a, 1)
        let rc = context.open(a)
        guard rc == ARCHIVE_OK else { throw failure("cannot open the output") }
    }

    deinit { archive_write_free(archive) }

    /// Writes `entry`'s header. A regular file's `size` bytes must follow through `writeContents`.
    package func writeHeader(_ entry: TarEntry) throws(ArchiveError) {
        try UTF8Locale.run { () throws(ArchiveError) in try writeHeaderInUTF8Locale(entry) }
    }

    private func writeHeaderInUTF8Locale(_ entry: TarEntry) throws(ArchiveError) {
        try checkComplete()
        guard let e = archive_entry_new() else { throw ArchiveError(.format, "cannot allocate an entry", archive: label) }
        defer { archive_entry_free(e) }
        archive_entry_set_pathname_utf8(e, entry.path)
        let type: mode_t
        switch entry.kind {
        case .regular, .hardlink: type = S_IFREG
        case .directory: type = S_IFDIR
        case .symlink: type = S_IFLNK
        case .characterDevice: type = S_IFCHR
        case .blockDevice: type = S_IFBLK
        case .fifo: type = S_IFIFO
        }
        archive_entry_set_filetype(e, UInt32(type))
        archive_entry_set_perm(e, mode_t(entry.permissions & 0o7777))
        archive_entry_set_uid(e, Int64(entry.uid))
        archive_entry_set_gid(e, Int64(entry.gid))
        if let name = entry.userName { archive_entry_set_uname_utf8(e, name) }
        if let name = entry.groupName { archive_entry_set_gname_utf8(e, name) }
        archive_entry_set_mtime(e, time_t(entry.modificationTime.seconds), Int(entry.modificationTime.nanoseconds))
        let size = entry.kind == .regular ? entry.size : 0
        archive_entry_set_size(e, size)
        switch entry.kind {
        case .symlink: archive_entry_set_symlink_utf8(e, entry.linkTarget ?? "")
        case .hardlink: archive_entry_set_hardlink_utf8(e, entry.linkTarget ?? "")
        case .characterDevice, .blockDevice:
            archive_entry_set_rdevmajor(e, dev_t(entry.deviceMajor))
            archive_entry_set_rdevminor(e, dev_t(entry.deviceMinor))
        default: break
        }
        for name in entry.xattrs.keys.sorted() {
            let value = entry.xattrs[name]!
            value.withUnsafeBytes { archive_entry_xattr_add_entry(e, name, $0.baseAddress, $0.count) }
        }
        let rc = archive_write_header(archive, e)
        guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN else {
            throw failure("cannot write the header", entry: entry.path)
        }
        remaining = size
        currentPath = entry.path
    }

    /// Writes content of the entry whose header was written last.
    package func writeContents(_ bytes: UnsafeRawBufferPointer) throws(ArchiveError) {
        guard Int64(bytes.count) <= remaining else {
            throw ArchiveError(.format, "more content than the header's size", archive: label, entry: currentPath)
        }
        var done = 0
        while done < bytes.count {
            let n = archive_write_data(archive, bytes.baseAddress! + done, bytes.count - done)
            guard n > 0 else { throw failure("cannot write content", entry: currentPath) }
            done += n
        }
        remaining -= Int64(bytes.count)
    }

    /// Writes `entry` with content read from `fd` (exactly `entry.size` bytes; a file that changed size
    /// while being read is an error, not a silently padded entry).
    package func write(_ entry: TarEntry, contentsOf fd: Int32) throws(ArchiveError) {
        try writeHeader(entry)
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { chunk.deallocate() }
        while remaining > 0 {
            let n = read(fd, chunk.baseAddress, min(chunk.count, Int(remaining)))
            if n < 0 {
                if errno == EINTR { continue }
                throw ArchiveError(.io, "cannot read the file", archive: label, entry: entry.path, cause: .errno("read"))
            }
            if n == 0 { throw ArchiveError(.io, "file shrank while being archived", archive: label, entry: entry.path) }
            try writeContents(UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
        }
        var probe: UInt8 = 0
        if read(fd, &probe, 1) > 0 {
            throw ArchiveError(.io, "file grew while being archived", archive: label, entry: entry.path)
        }
    }

    /// Writes `entry` with in-memory content.
    package func write(_ entry: TarEntry, contents: [UInt8]) throws(ArchiveError) {
        var entry = entry
        if entry.kind == .regular { entry.size = Int64(contents.count) }
        try writeHeader(entry)
        // `withUnsafeBytes` only rethrows untyped errors.
        var failure: ArchiveError?
        contents.withUnsafeBytes { b in
            do { try writeContents(b) } catch { failure = error as? ArchiveError }
        }
        if let failure { throw failure }
    }

    /// Writes the end-of-archive blocks and flushes everything to the sink.
    package func finish() throws(ArchiveError) {
        guard !finished else { return }
        try checkComplete()
        finished = true
        guard archive_write_close(archive) == ARCHIVE_OK else { throw failure("cannot finish the archive") }
    }

    private func checkComplete() throws(ArchiveError) {
        guard remaining == 0 else {
            throw ArchiveError(.format, "\(remaining) bytes of content missing", archive: label, entry: currentPath)
        }
    }

    private func failure(_ what: String, entry: String? = nil) -> ArchiveError {
        if let error = context.error {
            if let e = error as? ArchiveError { return e.labelled(label) }
            return ArchiveError(.stream, "\(what): \(error)", archive: label, entry: entry)
        }
        let detail = archive_error_string(archive).map { String(cString: $0) } ?? "libarchive error"
        return ArchiveError(.format, "\(what): \(detail)", archive: label, entry: entry)
    }
}

/// Holds the sink for libarchive's write callback; the callback reports a Swift error here.
final class WriteContext {
    let sink: any ByteSink
    var error: (any Error)?
    init(sink: any ByteSink) { self.sink = sink }

    func open(_ a: OpaquePointer) -> Int32 {
        archive_write_open2(a, Unmanaged.passUnretained(self).toOpaque(), nil, { _, client, buffer, length in
            let context = Unmanaged<WriteContext>.fromOpaque(client!).takeUnretainedValue()
            do {
                try context.sink.write(UnsafeRawBufferPointer(start: buffer, count: length))
                return length
            } catch {
                context.error = error
                return -1
            }
        }, nil, nil)
    }
}
