import CImgShim
import Glibc

/// Copies a regular file's data the cheapest way the file system allows: a reflink (shared extents, no
/// data written) where supported (btrfs, xfs), else `copy_file_range` (in-kernel, no user-space buffer),
/// else read and write.
package enum FileCopy {
    package enum Method: String, Sendable, Hashable {
        case reflink, copyFileRange = "copy_file_range", sendfile, readWrite = "read/write"
    }

    /// Copies all of `source` (from offset 0) into the empty file `destination`; returns how.
    @discardableResult
    package static func data(from source: Int32, to destination: Int32, size: Int64) throws(SystemError) -> Method {
        if size == 0 { return .reflink }
        if img_shim_ficlone(destination, source) == 0 { return .reflink }
        if try copySparse(from: source, to: destination, size: size) { return .copyFileRange }
        return try copyRange(from: source, to: destination, size: size)
    }

    /// A file with holes (fewer blocks than its size) is copied segment by segment between `SEEK_DATA` and
    /// `SEEK_HOLE`, then extended to its size: the holes stay holes (a 1 GiB sparse file stays a few blocks).
    /// False when the file has no holes or the file system cannot say where they are.
    private static func copySparse(from source: Int32, to destination: Int32, size: Int64) throws(SystemError) -> Bool {
        var status = stat()
        guard fstat(source, &status) == 0, Int64(status.st_blocks) * 512 < size else { return false }
        // Linux's values; Glibc shows them only under _GNU_SOURCE.
        let seekData: Int32 = 3, seekHole: Int32 = 4
        var offset = off_t(0)
        let end = off_t(size)
        if lseek(source, 0, seekHole) >= end {
            // Holes the file system does not report (FUSE without lseek, as fuse-overlayfs): skip zeros.
            guard lseek(source, 0, SEEK_SET) == 0 else { throw SystemError.errno("lseek") }
            try zeroSkipping(source, destination)
            guard ftruncate(destination, off_t(size)) == 0 else { throw SystemError.errno("ftruncate") }
            return true
        }
        guard lseek(source, 0, SEEK_SET) == 0 else { throw SystemError.errno("lseek") }
        while offset < end {
            let data = lseek(source, offset, seekData)
            if data < 0 {
                if errno == ENXIO { break }  // only a hole is left
                if offset == 0 && errno == EINVAL { return false }
                throw SystemError.errno("lseek SEEK_DATA")
            }
            var hole = lseek(source, data, seekHole)
            if hole < 0 { hole = end }
            hole = min(hole, end)
            guard lseek(source, data, SEEK_SET) == data, lseek(destination, data, SEEK_SET) == data else {
                throw SystemError.errno("lseek")
            }
            _ = try copyRange(from: source, to: destination, size: Int64(hole - data))
            offset = hole
        }
        guard ftruncate(destination, off_t(size)) == 0 else { throw SystemError.errno("ftruncate") }
        return true
    }

    /// `size` bytes from the current offsets, in the kernel where it can.
    private static func copyRange(from source: Int32, to destination: Int32, size: Int64) throws(SystemError) -> Method {
        var left = size
        var method = Method.copyFileRange
        while left > 0 {
            let n = img_shim_copy_file_range(source, destination, UInt(min(left, 1 << 30)))
            if n > 0 { left -= Int64(n); continue }
            if n == 0 { break }  // the file shrank meanwhile
            if errno == EINTR { continue }
            // Cross-device or unsupported (a context on ext4 into an overlay mount): sendfile still copies
            // in the kernel, page cache to page cache; else a plain copy of the rest.
            guard [EXDEV, EINVAL, ENOSYS, EOPNOTSUPP, EBADF].contains(errno) else { throw SystemError.errno("copy_file_range") }
            if try sendAll(source, destination, left) {
                method = .sendfile
            } else {
                method = .readWrite
                try readWrite(source, destination, left)
            }
            break
        }
        return method
    }

    /// `sendfile` of `left` bytes from the current offsets; false (nothing copied) when the kernel cannot.
    private static func sendAll(_ source: Int32, _ destination: Int32, _ left: Int64) throws(SystemError) -> Bool {
        var left = left
        var copied = false
        while left > 0 {
            let n = sendfile(destination, source, nil, Int(min(left, 1 << 30)))
            if n > 0 {
                left -= Int64(n)
                copied = true
                continue
            }
            if n == 0 { break }
            if errno == EINTR { continue }
            if !copied && [EINVAL, ENOSYS, EOPNOTSUPP].contains(errno) { return false }
            throw SystemError.errno("sendfile")
        }
        return true
    }

    /// Reads `source` to its end and writes every block that is not all zeros at its offset: the zeros
    /// become holes, as `cp --sparse=always` makes them.
    private static func zeroSkipping(_ source: Int32, _ destination: Int32) throws(SystemError) {
        let block = 1 << 16
        var buffer = [UInt8](repeating: 0, count: block)
        var offset = off_t(0)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, block) }
            if n < 0 { if errno == EINTR { continue }; throw SystemError.errno("read") }
            if n == 0 { return }
            let zero = buffer.withUnsafeBytes { bytes in bytes[..<n].allSatisfy { $0 == 0 } }
            if !zero {
                var done = 0
                while done < n {
                    let w = buffer.withUnsafeBytes { pwrite(destination, $0.baseAddress! + done, n - done, offset + off_t(done)) }
                    if w < 0 { if errno == EINTR { continue }; throw SystemError.errno("write") }
                    done += w
                }
            }
            offset += off_t(n)
        }
    }

    private static func readWrite(_ source: Int32, _ destination: Int32, _ left: Int64) throws(SystemError) {
        var buffer = [UInt8](repeating: 0, count: 1 << 17)
        var left = left
        while left > 0 {
            let n = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, min($0.count, Int(clamping: left))) }
            if n < 0 { if errno == EINTR { continue }; throw SystemError.errno("read") }
            if n == 0 { return }
            var done = 0
            while done < n {
                let w = buffer.withUnsafeBytes { write(destination, $0.baseAddress! + done, n - done) }
                if w < 0 { if errno == EINTR { continue }; throw SystemError.errno("write") }
                done += w
            }
            left -= Int64(n)
        }
    }
}
