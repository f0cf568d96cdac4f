import CDeflate
import Dispatch
import Foundation
import Glibc
import Synchronization

/// gzip on every core: the input is cut into fixed-size blocks, each compressed on its own thread into a
/// complete gzip member, and the members are written in order. Concatenated members are one valid gzip
/// file (RFC 1952; `gzip -d`, Go, containerd and libarchive read them). Block boundaries depend only on
/// the block size, never on the number of cores, so the same input always gives the same bytes.
package final class ParallelGzipCompressor {
    let blockSize: Int
    let level: Int
    let output: any ByteSink
    let label: String?
    private var pending: [UInt8] = []
    private var inFlight: [Slot] = []
    private var members = 0
    private let maxInFlight: Int
    private let workers: CompressionWorkers

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
        workers = CompressionWorkers(count: cores)
        pending.reserveCapacity(blockSize)
    }

    deinit { workers.stop() }

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
        workers.stop()
    }

    private func submit() throws {
        let block = pending
        pending = []
        pending.reserveCapacity(blockSize)
        let slot = Slot()
        let level = self.level, label = self.label
        workers.submit {
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

    /// One complete gzip member holding `block`, made by libdeflate (whole-buffer, several times zlib's
    /// speed at the same level; its header has no name and mtime 0, so the bytes depend only on the input).
    ///
    /// A block that looks incompressible (random data, already-compressed files) is stored (level 0): at
    /// level 6 libdeflate spends as long on such a block as on text, to save nothing.
    static func member(_ block: [UInt8], level: Int, label: String?) throws(ArchiveError) -> [UInt8] {
        let effective = level > 0 && block.withUnsafeBytes(looksIncompressible) ? 0 : level
        guard let compressor = libdeflate_alloc_compressor(Int32(min(max(effective, 0), 12))) else {
            throw ArchiveError(.format, "cannot allocate a compressor", archive: label)
        }
        defer { libdeflate_free_compressor(compressor) }
        let bound = libdeflate_gzip_compress_bound(compressor, block.count)
        var output = [UInt8](repeating: 0, count: bound)
        let size = block.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { out in
                libdeflate_gzip_compress(compressor, input.baseAddress, input.count, out.baseAddress, out.count)
            }
        }
        guard size > 0 else { throw ArchiveError(.format, "gzip compression failed", archive: label) }
        output.removeSubrange(size...)
        return output
    }
}

extension ParallelGzipCompressor {
    /// True when level 1 cannot shrink any of three 16 KiB samples (start, middle, end) by 2%. The samples
    /// cost ~5% of compressing the block; the verdict depends only on the block's bytes, so the output stays
    /// deterministic.
    package static func looksIncompressible(_ block: UnsafeRawBufferPointer) -> Bool {
        let sample = 16 << 10
        guard block.count >= 16 * sample, let base = block.baseAddress,
              let fast = libdeflate_alloc_compressor(1) else { return false }
        defer { libdeflate_free_compressor(fast) }
        var out = [UInt8](repeating: 0, count: libdeflate_deflate_compress_bound(fast, sample))
        return out.withUnsafeMutableBytes { out in
            [0, (block.count - sample) / 2, block.count - sample].allSatisfy { start in
                let size = libdeflate_deflate_compress(fast, base + start, sample, out.baseAddress, out.count)
                return size == 0 || size >= sample * 98 / 100
            }
        }
    }
}

/// Compression threads of a compressor's own. On the global dispatch queue the producer, blocked waiting
/// for the oldest block, still counted as busy: on two cores one block was compressed at a time.
final class CompressionWorkers: Sendable {
    private let jobs = Mutex<[(@Sendable () -> Void)?]>([])
    private let available = DispatchSemaphore(value: 0)
    private let stopped = Mutex(false)
    private let count: Int

    init(count: Int) {
        self.count = count
        for _ in 0..<count {
            let thread = Thread { [self] in loop() }
            thread.name = "img-gzip"
            thread.start()
        }
    }

    func submit(_ job: @escaping @Sendable () -> Void) {
        jobs.withLock { $0.append(job) }
        available.signal()
    }

    /// Lets every thread finish what is queued and end; idempotent.
    func stop() {
        guard stopped.withLock({ was in defer { was = true }; return !was }) else { return }
        for _ in 0..<count {
            jobs.withLock { $0.append(nil) }
            available.signal()
        }
    }

    private func loop() {
        while true {
            available.wait()
            guard let job = jobs.withLock({ $0.removeFirst() }) else { return }
            job()
        }
    }
}
