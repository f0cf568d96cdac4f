package import ImgErrors

/// Why a snapshot operation failed; `description` is one line a user can act on.
package struct SnapshotError: ImgError {
    package enum Code: String, Sendable, Hashable, CaseIterable {
        /// The backend cannot work on this host (no overlayfs, no usable /dev/fuse, not root...).
        case unavailable
        /// A layer's content is not the diffID it was announced with.
        case digestMismatch = "digest-mismatch"
        /// A layer could not be applied or a diff written (bad archive, hostile entry...).
        case layer
        /// A mount or unmount failed.
        case mount
        /// A snapshot the caller named is not in the store.
        case notFound = "not-found"
        /// A file system call on the store failed.
        case io
    }

    package var code: Code
    package var message: String
    package var cause: (any Error & Sendable)?

    package init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    package var errorCode: String { code.rawValue }
    package var underlyingError: (any Error)? { cause }

    package var description: String {
        var text = message
        if let cause { text += ": \(cause)" }
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
