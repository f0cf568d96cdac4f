import Glibc
package import ImgErrors

/// A failed system call, with what was being done: `open /x/y: No such file or directory`.
package struct SystemError: ImgError, Hashable {
    package var operation: String
    package var code: Int32
    package init(operation: String, code: Int32) {
        self.operation = operation
        self.code = code
    }
    /// The error for the current `errno`.
    package static func errno(_ operation: String) -> SystemError {
        SystemError(operation: operation, code: Glibc.errno)
    }
    package var description: String { "\(operation): \(String(cString: strerror(code)))" }
    /// The disk (or the user's quota) is full: callers say `no space left on device writing PATH`.
    package var isDiskFull: Bool { code == ENOSPC || code == EDQUOT }

    /// The errno's symbolic name in kebab case (`enoent`), or `errno-N` for one not listed here.
    package var errorCode: String {
        let names: [Int32: String] = [
            EPERM: "eperm", ENOENT: "enoent", EINTR: "eintr", EIO: "eio", EBADF: "ebadf", EAGAIN: "eagain",
            ENOMEM: "enomem", EACCES: "eacces", EEXIST: "eexist", EXDEV: "exdev", ENOTDIR: "enotdir",
            EISDIR: "eisdir", EINVAL: "einval", ENFILE: "enfile", EMFILE: "emfile", ENOSPC: "enospc",
            EROFS: "erofs", EMLINK: "emlink", EPIPE: "epipe", ENAMETOOLONG: "enametoolong", ENOSYS: "enosys",
            ENOTEMPTY: "enotempty", ELOOP: "eloop", ENOTSUP: "enotsup", EDQUOT: "edquot", EBUSY: "ebusy",
        ]
        return names[code] ?? "errno-\(code)"
    }
}
