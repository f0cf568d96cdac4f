package import ImgSystem
package import ImgErrors

/// Every failure of the content and image stores. `code` is stable (scripts and tests match on it);
/// `description` is one line naming the digest, reference or path, then the underlying cause if any.
package struct ContentError: ImgError, Hashable {
    package enum Code: String, Sendable, Hashable, CaseIterable {
        case blobNotFound = "blob-not-found"
        case digestMismatch = "digest-mismatch"
        case sizeMismatch = "size-mismatch"
        case unsupportedDigest = "unsupported-digest"
        case blobTooLarge = "blob-too-large"
        case invalidDocument = "invalid-document"
        case ingestClosed = "ingest-closed"
        case imageNotFound = "image-not-found"
        case imageExists = "image-exists"
        case invalidLayout = "invalid-layout"
        case leaseNotFound = "lease-not-found"
        case cancelled = "cancelled"
        case io = "io"
        case noSpace = "no-space"
        case database = "database"
    }

    package var code: Code
    package var message: String
    /// The underlying error, rendered: a syscall failure, an SQLite message, a decoding error.
    package var cause: String?

    package init(_ code: Code, _ message: String, cause: String? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    package var description: String { cause.map { "\(message): \($0)" } ?? message }
    package var errorCode: String { code.rawValue }
}

extension ContentError {
    static func io(_ what: String, _ error: any Error) -> ContentError {
        ContentError(.io, what, cause: "\(error)")
    }

    /// A failed write of `path`: a full disk (or quota) is said as such, naming the file.
    package static func writing(_ path: String, _ error: any Error) -> ContentError {
        if let error = error as? SystemError, error.isDiskFull {
            return ContentError(.noSpace, "no space left on device writing \(path)")
        }
        return ContentError(.io, "cannot write \(path)", cause: "\(error)")
    }

    static func database(_ what: String, _ error: any Error) -> ContentError {
        if let error = error as? ContentError { return error }
        if error is CancellationError { return ContentError(.cancelled, "\(what): cancelled") }
        return ContentError(.database, what, cause: "\(error)")
    }
}
