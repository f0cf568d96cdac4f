import CArchive
package import ImgOCI

/// Decompresses whatever compression libarchive detects (or passes plain bytes through) and hashes the
/// decompressed bytes, so a layer's diffID can be checked while it is being unpacked.
package final class DecompressingSource: ByteSource {
    private let archive: OpaquePointer
    private let context: ReadContext
    private let label: String?
    private var hasher = DigestHasher()
    package private(set) var count: Int64 = 0
    private var ended = false
    private var empty = false

    package init(source: any ByteSource, label: String? = nil) throws(ArchiveError) {
        self.label = label
        context = ReadContext(source: source)
        guard let a = archive_read_new() else { throw ArchiveError(.format, "cannot allocate a reader", archive: label) }
        archive = a
        archive_read_support_filter_all(a)
        archive_read_support_format_raw(a)
        archive_read_support_format_empty(a)
        guard context.open(a) == ARCHIVE_OK else { throw failure("cannot open") }
        var entry: OpaquePointer?
        let rc = archive_read_next_header(a, &entry)
        if rc == ARCHIVE_EOF {
            empty = true
        } else if rc != ARCHIVE_OK && rc != ARCHIVE_WARN {
            throw failure("cannot read")
        }
    }

    deinit { archive_read_free(archive) }

    package func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if empty || ended { return 0 }
        let n = archive_read_data(archive, buffer.baseAddress, buffer.count)
        guard n >= 0 else { throw failure("cannot decompress") }
        if n == 0 { ended = true }
        hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        count += Int64(n)
        return n
    }

    /// Reads to the end (a tar reader stops at the end-of-archive blocks; the diffID covers everything
    /// after them too) and returns the digest of all decompressed bytes.
    package func finish() throws(ArchiveError) -> Digest {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { chunk.deallocate() }
        do {
            while try read(into: chunk) > 0 {}
        } catch let error as ArchiveError {
            throw error
        } catch {
            throw ArchiveError(.stream, "\(error)", archive: label)
        }
        return hasher.finalize()
    }

    private func failure(_ what: String) -> ArchiveError {
        if let error = context.error {
            if let e = error as? ArchiveError { return e.labelled(label) }
            return ArchiveError(.stream, "\(what): \(error)", archive: label)
        }
        let detail = archive_error_string(archive).map { String(cString: $0) } ?? "libarchive error"
        return ArchiveError(.format, "\(what): \(detail)", archive: label)
    }
}

/// Whole-file compression helpers (`img` exports, tests, the benchmark).
package enum Compression {
    /// Compresses the file at `source` into a new file at `destination`.
    package static func compress(file source: String, to destination: String, compression: LayerCompression,
                                 level: Int? = nil) throws(ArchiveError) -> BlobDigests {
        let out = try FileSink(creating: destination)
        defer { out.close() }
        let sink = try CompressingSink(compression: compression, level: level, output: out, label: destination)
        let input = try FileSource(path: source)
        try pump(input, into: sink, label: source)
        return try sink.finish()
    }

    /// Decompresses the file at `source` (any compression libarchive detects, or none) into `destination`,
    /// returning the digest and size of the decompressed bytes.
    package static func decompress(file source: String, to destination: String) throws(ArchiveError) -> (digest: Digest, size: Int64) {
        let out = try FileSink(creating: destination)
        defer { out.close() }
        let input = try DecompressingSource(source: try FileSource(path: source), label: source)
        try pump(input, into: out, label: source)
        return (try input.finish(), input.count)
    }

    package static func pump(_ source: any ByteSource, into sink: any ByteSink, label: String) throws(ArchiveError) {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { chunk.deallocate() }
        do {
            while true {
                let n = try source.read(into: chunk)
                if n == 0 { return }
                try sink.write(UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
            }
        } catch let error as ArchiveError {
            throw error
        } catch {
            throw ArchiveError(.stream, "\(error)", archive: label)
        }
    }
}
