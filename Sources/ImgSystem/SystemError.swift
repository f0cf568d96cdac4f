import Glibc

/// A failed system call, with what was being done: `open /x/y: No such file or directory`.
package struct SystemError: Error, Sendable, Hashable, CustomStringConvertible {
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
}
