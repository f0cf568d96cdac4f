package import Glibc
package import ImgSystem

/// Where written bytes go: a file, a content-store ingest, memory. Called with each chunk in order.
package protocol ByteSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
}

/// Where read bytes come from. `read` fills up to `buffer.count` bytes and returns how many; 0 is the end.
package protocol ByteSource: AnyObject {
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// A file descriptor as a sink; closes it on `close()` or when dropped if it owns it.
package final class FileSink: ByteSink {
    package private(set) var fd: Int32
    private let owned: Bool
    private let path: String

    /// Creates (truncating) `path` with `mode`.
    package init(creating path: String, mode: mode_t = 0o644) throws(ArchiveError) {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw ArchiveError(.io, "cannot create", archive: path, cause: .errno("open \(path)")) }
        owned = true
        self.path = path
    }

    /// Writes to an open descriptor the caller keeps owning.
    package init(fileDescriptor: Int32, describing path: String) {
        fd = fileDescriptor
        owned = false
        self.path = path
    }

    package func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw ArchiveError(.io, "write failed", archive: path, cause: .errno("write \(path)"))
            }
            done += n
        }
    }

    /// Flushes to disk (for blobs that must survive a crash before being renamed into place).
    package func sync() throws(ArchiveError) {
        guard fsync(fd) == 0 else { throw ArchiveError(.io, "fsync failed", archive: path, cause: .errno("fsync \(path)")) }
    }

    package func close() {
        if owned && fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    deinit { close() }
}

/// Collects everything written, for small archives and tests.
package final class MemorySink: ByteSink {
    package private(set) var bytes: [UInt8] = []
    package init() {}
    package func write(_ chunk: UnsafeRawBufferPointer) throws { bytes.append(contentsOf: chunk) }
}

/// A file read from start to end.
package final class FileSource: ByteSource {
    private var fd: Int32
    private let path: String

    package init(path: String) throws(ArchiveError) {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiveError(.io, "cannot open", archive: path, cause: .errno("open \(path)")) }
        self.path = path
    }

    package func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno != EINTR { throw ArchiveError(.io, "read failed", archive: path, cause: .errno("read \(path)")) }
        }
    }

    deinit { close(fd) }
}

/// Bytes held in memory as a source.
package final class MemorySource: ByteSource {
    private let bytes: [UInt8]
    private var offset = 0
    package init(_ bytes: [UInt8]) { self.bytes = bytes }
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - offset)
        bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n])) }
        offset += n
        return n
    }
}
