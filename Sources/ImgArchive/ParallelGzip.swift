import CArchive
import Dispatch
import Glibc

/// gzip on every core: the input is cut into fixed-size blocks, each compressed on its own thread into a
/// complete gzip member, and the members are written in order. Concatenated members are one valid gzip
/// file (RFC 1952; `gzip -d`, Go, containerd and libarchive read them). Block boundaries depend only on
/// the block size, never on the number of cores, so the same input always gives the same bytes.
final class ParallelGzipCompressor {
    let blockSize: Int
    let level: Int
    let output: any ByteSink
    let label: String?
    private var pending: [UInt8] = []
    private var inFlight: [Slot] = []
    private var members = 0
    private let maxInFlight: Int

    final class Slot: @unchecked Sendable {
        // Written by one worker before `done` is signalled, read by the producer after waiting on it.
        var result: Result<[UInt8], ArchiveError> = .success([])
        let done = DispatchSemaphore(value: 0)
    }

    init(blockSize: Int, level: Int, output: any ByteSink, label: String?) {
        self.blockSize = blockSize
        self.level = level
        self.output = output
        self.label = label
        let cores = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        maxInFlight = 2 * cores
        pending.reserveCapacity(blockSize)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes[...]
        while !rest.isEmpty {
            let n = min(rest.count, blockSize - pending.count)
            pending.append(contentsOf: rest.prefix(n))
            rest = rest.dropFirst(n)
            if pending.count == blockSize { try submit() }
        }
    }

    func finish() throws {
        if !pending.isEmpty || members == 0 { try submit() }
        while !inFlight.isEmpty { try drainOne() }
    }

    private func submit() throws {
        let block = pending
        pending = []
        pending.reserveCapacity(blockSize)
        let slot = Slot()
        let level = self.level, label = self.label
        DispatchQueue.global().async {
            slot.result = Result { () throws(ArchiveError) in try Self.member(block, level: level, label: label) }
            slot.done.signal()
        }
        inFlight.append(slot)
        members += 1
        while inFlight.count > maxInFlight { try drainOne() }
    }

    private func drainOne() throws {
        let slot = inFlight.removeFirst()
        slot.done.wait()
        let bytes = try slot.result.get()
        try bytes.withUnsafeBytes { try output.write($0) }
    }

    /// One complete gzip member holding `block`.
    static func member(_ block: [UInt8], level: Int, label: String?) throws(ArchiveError) -> [UInt8] {
        guard let a = archive_write_new() else { throw ArchiveError(.format, "cannot allocate a compressor", archive: label) }
        defer { archive_write_free(a) }
        let sink = MemorySink()
        let context = WriteContext(sink: sink)
        var ok = archive_write_set_format_raw(a) == ARCHIVE_OK
        ok = ok && archive_write_add_filter_gzip(a) == ARCHIVE_OK
        ok = ok && archive_write_set_filter_option(a, "gzip", "timestamp", nil) == ARCHIVE_OK
        ok = ok && archive_write_set_filter_option(a, "gzip", "compression-level", "\(level)") == ARCHIVE_OK
        archive_write_set_bytes_per_block(a, 1 << 16)
        archive_write_set_bytes_in_last_block(a, 1)
        guard ok, context.open(a) == ARCHIVE_OK else { throw ArchiveError(.unsupported, "cannot set up gzip", archive: label) }
        let e = archive_entry_new()
        defer { archive_entry_free(e) }
        archive_entry_set_pathname(e, "block")
        archive_entry_set_filetype(e, 0o100000)
        guard archive_write_header(a, e) == ARCHIVE_OK else { throw ArchiveError(.format, "cannot start a gzip member", archive: label) }
        let written = block.withUnsafeBytes { b in
            var done = 0
            while done < b.count {
                let n = archive_write_data(a, b.baseAddress! + done, b.count - done)
                guard n > 0 else { return false }
                done += n
            }
            return true
        }
        guard written else { throw ArchiveError(.format, "gzip compression failed", archive: label) }
        guard archive_write_close(a) == ARCHIVE_OK else { throw ArchiveError(.format, "cannot finish a gzip member", archive: label) }
        return sink.bytes
    }
}
