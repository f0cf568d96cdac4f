import Glibc

/// Whole-file reads of small text files (`/etc/subuid`, `/proc/sys/...`, `/proc/self/mountinfo`), and writes
/// of small files that need no fsync.
package enum SmallTextFile {
    /// The file's text, or nil if it does not exist.
    package static func read(_ path: String) throws(SystemError) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw SystemError.errno("open \(path)")
        }
        defer { close(fd) }
        return try read(descriptor: fd, name: path)
    }

    /// Reads `fd` to its end (the caller closes it).
    package static func read(descriptor fd: Int32, name: String) throws(SystemError) -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SystemError.errno("read \(name)")
            }
            if count == 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension SmallTextFile {
    /// The target of the symbolic link at `path` (`/proc/self/exe`).
    package static func readLink(_ path: String) throws(SystemError) -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { readlink(path, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
        guard count >= 0 else { throw SystemError.errno("readlink \(path)") }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }

    /// Writes `bytes` to a new file at `path` (mode 0644 unless given), without the fsync Foundation's
    /// `Data.write` does: for files nothing needs after a crash (a runc bundle, a snapshot's own notes).
    package static func write(_ bytes: [UInt8], to path: String, mode: UInt32 = 0o644) throws(SystemError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw SystemError.errno("create \(path)") }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError.errno("write \(path)")
            }
            offset += n
        }
    }
}
