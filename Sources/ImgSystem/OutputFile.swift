package import Glibc

/// A file a command writes for the user (`img save -o`, `-o type=oci,dest=`, ...). A regular file (or a
/// name that does not exist yet) is written beside itself and renamed into place on `commit`, so a failure
/// never leaves half an archive there. Anything else that exists (a character device such as `/dev/null`, a
/// FIFO, `/dev/stdout`, a socket) is opened and written into, as `docker save -o` does: renaming over it
/// would replace the device node or the pipe with a regular file, and as root that breaks the host.
package final class OutputFile {
    /// The name the user gave, for messages.
    package let path: String
    package private(set) var descriptor: Int32
    /// The temporary name and the file it will replace; nil when written in place.
    private let replacing: (partial: String, target: String)?
    private var finished = false

    package init(_ path: String, mode: mode_t = 0o644) throws(SystemError) {
        self.path = path
        var status = stat()
        if fstatat(AT_FDCWD, path, &status, 0) == 0, status.st_mode & S_IFMT != S_IFREG {
            guard status.st_mode & S_IFMT != S_IFDIR else {
                throw SystemError(operation: "open \(path)", code: EISDIR)
            }
            // O_TRUNC is ignored by devices and FIFOs; no O_CREAT: it exists, and must stay what it is.
            let fd = Glibc.open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY)
            guard fd >= 0 else { throw SystemError.errno("open \(path)") }
            descriptor = fd
            replacing = nil
            return
        }
        // A symlink to a regular file keeps being a symlink: the file it names is replaced.
        let target = Self.resolved(path)
        // Random, not the pid: img may run as pid 2 of a PID namespace of its own, as every other img does.
        let partial = target + ".partial-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let fd = Glibc.open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw SystemError.errno("open \(partial)") }
        descriptor = fd
        replacing = (partial, target)
    }

    /// Writes all of `bytes` (small outputs: an `--iidfile`, a metadata file; archives stream through a sink).
    package func write(_ bytes: UnsafeRawBufferPointer) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw SystemError.errno("write \(path)")
            }
            offset += written
        }
    }

    /// True when the output is a device, FIFO or socket written in place.
    package var isInPlace: Bool { replacing == nil }

    /// Makes the written bytes the file's content: fsync and rename for a regular file; nothing more for a
    /// device or pipe.
    package func commit() throws(SystemError) {
        defer { closeDescriptor(); finished = true }
        guard let replacing else { return }
        guard fsync(descriptor) == 0 else {
            let error = SystemError.errno("fsync \(replacing.partial)")
            unlink(replacing.partial)
            throw error
        }
        guard Glibc.rename(replacing.partial, replacing.target) == 0 else {
            let error = SystemError.errno("rename \(replacing.partial) to \(replacing.target)")
            unlink(replacing.partial)
            throw error
        }
    }

    /// Drops what was written: the temporary file is removed, the destination left as it was.
    package func abandon() {
        closeDescriptor()
        if !finished, let replacing { unlink(replacing.partial) }
        finished = true
    }

    private func closeDescriptor() {
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
    }

    deinit { abandon() }

    /// `path` with its symlinks resolved when it names an existing file; itself otherwise.
    private static func resolved(_ path: String) -> String {
        var status = stat()
        guard fstatat(AT_FDCWD, path, &status, AT_SYMLINK_NOFOLLOW) == 0, status.st_mode & S_IFMT == S_IFLNK, let real = realpath(path, nil) else { return path }
        defer { free(real) }
        return String(cString: real)
    }
}
