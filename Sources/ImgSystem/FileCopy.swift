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
                try readWrite(source, destination)
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

    private static func readWrite(_ source: Int32, _ destination: Int32) throws(SystemError) {
        var buffer = [UInt8](repeating: 0, count: 1 << 17)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw SystemError.errno("read") }
            if n == 0 { return }
            var done = 0
            while done < n {
                let w = buffer.withUnsafeBytes { write(destination, $0.baseAddress! + done, n - done) }
                if w < 0 { if errno == EINTR { continue }; throw SystemError.errno("write") }
                done += w
            }
        }
    }
}
