import CArchive
package import ImgOCI

/// What one pass over a layer produced: the blob's digest and size as stored (compressed), and the diffID
/// and size of the tar inside it.
package struct BlobDigests: Sendable, Hashable {
    package var digest: Digest
    package var size: Int64
    package var diffID: Digest
    package var uncompressedSize: Int64
    package var compression: LayerCompression

    /// The OCI layer media type for this compression.
    package var mediaType: MediaType { compression.ociLayerMediaType }

    package func descriptor(mediaType: MediaType? = nil) -> Descriptor {
        Descriptor(mediaType: mediaType ?? self.mediaType, digest: digest, size: size)
    }
}

/// A sink that compresses what it is given into `output`, hashing the bytes on the way in (diffID) and on
/// the way out (blob digest), so a layer is written and identified in one pass.
package final class CompressingSink: ByteSink {
    /// libdeflate's level 4: on a Debian /usr tree its output is within 2% of its level 6 and as small as
    /// `gzip -6` (what docker and BuildKit aim at with Go's `DefaultCompression`), at 1.6 times level 6's
    /// speed. `compression-level=` on an output picks another.
    package static let defaultGzipLevel = 4
    /// zstd level 3 is zstd's own default and BuildKit's.
    package static let defaultZstdLevel = 3

    package let compression: LayerCompression
    private let output: CountingHashingSink
    private var input = DigestHasher()
    private var inputSize: Int64 = 0
    private let compressor: OpaquePointer?
    private let parallel: ParallelGzipCompressor?
    private let context: WriteContext?
    private let label: String?
    private var result: BlobDigests?

    /// gzip block size for `gzipBlocks`: large enough that the per-member header and the lost dictionary
    /// cost under 0.1%, small enough to keep both cores busy on small layers.
    package static let defaultGzipBlockSize = 1 << 20

    /// `level` nil means the default for the compression. With `gzipBlockSize`, gzip runs on every core
    /// as a sequence of independent members (see `ParallelGzipCompressor`); the bytes differ from
    /// single-stream gzip but are the same for the same input and block size.
    ///
    /// With `zstdWorkers`, zstd compresses on that many threads besides the caller's. zstd's output with
    /// one or more workers does not depend on how many (it differs from zero workers, the default).
    package init(compression: LayerCompression, level: Int? = nil, gzipBlockSize: Int? = nil, zstdWorkers: Int? = nil,
                 output: any ByteSink, label: String? = nil) throws(ArchiveError) {
        self.compression = compression
        self.label = label
        let counting = CountingHashingSink(output)
        self.output = counting
        if compression == .gzip, let gzipBlockSize {
            precondition(gzipBlockSize > 0, "gzip block size must be positive")
            parallel = ParallelGzipCompressor(blockSize: gzipBlockSize, level: level ?? Self.defaultGzipLevel, output: counting, label: label)
        } else {
            parallel = nil
        }
        guard compression != .uncompressed, parallel == nil else {
            compressor = nil
            context = nil
            return
        }
        guard let a = archive_write_new() else { throw ArchiveError(.format, "cannot allocate a compressor", archive: label) }
        compressor = a
        let context = WriteContext(sink: counting)
        self.context = context
        var ok = archive_write_set_format_raw(a) == ARCHIVE_OK
        switch compression {
        case .gzip:
            ok = ok && archive_write_add_filter_gzip(a) == ARCHIVE_OK
            // The default stores the current time in the header, which would make blobs differ run to run.
            ok = ok && archive_write_set_filter_option(a, "gzip", "timestamp", nil) == ARCHIVE_OK
            ok = ok && archive_write_set_filter_option(a, "gzip", "compression-level", "\(level ?? Self.defaultGzipLevel)") == ARCHIVE_OK
        case .zstd:
            ok = ok && archive_write_add_filter_zstd(a) == ARCHIVE_OK
            ok = ok && archive_write_set_filter_option(a, "zstd", "compression-level", "\(level ?? Self.defaultZstdLevel)") == ARCHIVE_OK
            if let zstdWorkers {
                ok = ok && archive_write_set_filter_option(a, "zstd", "threads", "\(max(1, zstdWorkers))") == ARCHIVE_OK
            }
        case .uncompressed: break
        }
        archive_write_set_bytes_per_block(a, 1 << 16)
        archive_write_set_bytes_in_last_block(a, 1)
        guard ok, context.open(a) == ARCHIVE_OK else {
            let detail = archive_error_string(a).map { String(cString: $0) } ?? "unsupported"
            throw ArchiveError(.unsupported, "cannot set up \(compression.rawValue) compression: \(detail)", archive: label)
        }
        // The raw format carries exactly one "file": the stream.
        let e = archive_entry_new()
        defer { archive_entry_free(e) }
        archive_entry_set_pathname(e, "layer")
        archive_entry_set_filetype(e, 0o100000)
        archive_entry_set_perm(e, 0o644)
        guard archive_write_header(a, e) == ARCHIVE_OK else {
            throw ArchiveError(.format, "cannot start the compressed stream", archive: label)
        }
    }

    deinit { if let compressor { archive_write_free(compressor) } }

    package func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard result == nil else { throw ArchiveError(.stream, "write after finish", archive: label) }
        input.update(bytes)
        inputSize += Int64(bytes.count)
        if let parallel { return try parallel.write(bytes) }
        guard let compressor else {
            try output.write(bytes)
            return
        }
        var done = 0
        while done < bytes.count {
            let n = archive_write_data(compressor, bytes.baseAddress! + done, bytes.count - done)
            guard n > 0 else { throw failure("compression failed") }
            done += n
        }
    }

    /// Flushes the compressor and returns the digests. Calling it again returns the same result.
    package func finish() throws(ArchiveError) -> BlobDigests {
        if let result { return result }
        if let parallel {
            do { try parallel.finish() } catch let error as ArchiveError { throw error.labelled(label) } catch {
                throw ArchiveError(.stream, "\(error)", archive: label)
            }
        }
        if let compressor, archive_write_close(compressor) != ARCHIVE_OK { throw failure("cannot finish compression") }
        let digests = BlobDigests(digest: output.hasher.finalize(), size: output.count, diffID: input.finalize(),
                                  uncompressedSize: inputSize, compression: compression)
        result = digests
        return digests
    }

    private func failure(_ what: String) -> ArchiveError {
        if let error = context?.error {
            if let e = error as? ArchiveError { return e.labelled(label) }
            return ArchiveError(.stream, "\(what): \(error)", archive: label)
        }
        let detail = compressor.flatMap { archive_error_string($0) }.map { String(cString: $0) } ?? "libarchive error"
        return ArchiveError(.format, "\(what): \(detail)", archive: label)
    }
}

/// Passes bytes on while counting and hashing them.
final class CountingHashingSink: ByteSink {
    let next: any ByteSink
    var hasher = DigestHasher()
    var count: Int64 = 0
    init(_ next: any ByteSink) { self.next = next }
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bytes)
        count += Int64(bytes.count)
        try next.write(bytes)
    }
}
