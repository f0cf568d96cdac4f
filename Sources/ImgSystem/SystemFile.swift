import CImgShim
import Glibc

/// An open file descriptor, closed when the value is dropped. Sendable because the descriptor number never
/// changes after `open`; callers that share one must not interleave writes (the content store never does).
package final class SystemFile: Sendable {
    package let descriptor: Int32
    package let path: String

    /// `open(2)`; `flags` as for the syscall (`O_CLOEXEC` is always added).
    package init(path: String, flags: Int32, permissions: UInt32 = 0o644) throws(SystemError) {
        let fd = Glibc.open(path, flags | O_CLOEXEC, mode_t(permissions))
        guard fd >= 0 else { throw SystemError.errno("open \(path)") }
        descriptor = fd
        self.path = path
    }

    deinit { Glibc.close(descriptor) }

    package static var readOnly: Int32 { O_RDONLY }
    package static var readWrite: Int32 { O_RDWR }
    package static var create: Int32 { O_CREAT }
    package static var exclusiveCreate: Int32 { O_CREAT | O_EXCL }
    package static var writeOnly: Int32 { O_WRONLY }
    package static var truncate: Int32 { O_TRUNC }

    /// Reads up to `buffer.count` bytes at the current offset; 0 means end of file.
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let n = Glibc.read(descriptor, base, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw SystemError.errno("read \(path)")
        }
    }

    /// Fills `buffer` unless the file ends first; returns how many bytes were read.
    package func readFully(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        var total = 0
        while total < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[total...]))
            if n == 0 { break }
            total += n
        }
        return total
    }

    /// Writes all of `buffer` at the current offset.
    package func write(_ buffer: UnsafeRawBufferPointer) throws(SystemError) {
        guard var next = buffer.baseAddress else { return }
        var left = buffer.count
        while left > 0 {
            let n = Glibc.write(descriptor, next, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError.errno("write \(path)")
            }
            left -= n
            next += n
        }
    }

    package func seek(to offset: Int64) throws(SystemError) {
        guard lseek(descriptor, off_t(offset), SEEK_SET) >= 0 else { throw SystemError.errno("seek \(path)") }
    }

    package func truncate(to size: Int64) throws(SystemError) {
        guard ftruncate(descriptor, off_t(size)) == 0 else { throw SystemError.errno("truncate \(path)") }
    }

    /// Flushes data and metadata to the device (`fsync`), so a rename after it cannot expose a short file.
    package func sync() throws(SystemError) {
        while fsync(descriptor) != 0 {
            if errno == EINTR { continue }
            throw SystemError.errno("fsync \(path)")
        }
    }

    /// Starts writing `length` bytes from `offset` to disk without waiting, so a later `sync()` has little
    /// left to flush. Best effort: a failure shows up at `sync()`.
    package func startWriteback(offset: Int64, length: Int64) {
        _ = img_shim_start_writeback(descriptor, offset, length)
    }

    package func status() throws(SystemError) -> FileStatus {
        var st = stat()
        guard fstat(descriptor, &st) == 0 else { throw SystemError.errno("stat \(path)") }
        return FileStatus(st)
    }

    package func setPermissions(_ permissions: UInt32) throws(SystemError) {
        guard fchmod(descriptor, mode_t(permissions)) == 0 else { throw SystemError.errno("chmod \(path)") }
    }
}

/// The views of `FileStatus` the content store reads.
extension FileStatus {
    package var isRegularFile: Bool { kind == .regular }
    package var isDirectory: Bool { kind == .directory }
    /// Modification time, seconds since the epoch.
    package var modified: Double {
        Double(modificationTime.seconds) + Double(modificationTime.nanoseconds) / 1e9
    }
    /// Whether both describe the same inode.
    package func isSameFile(as other: FileStatus) -> Bool { device == other.device && inode == other.inode }
}
