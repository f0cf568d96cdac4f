package import ImgErrors

/// Why an export or an import of images failed: one line naming the file, directory or image.
package struct ExportError: ImgError, Hashable {
    package enum Code: String, Sendable, Hashable, CaseIterable {
        /// An archive to load is not a docker or OCI archive, or one of its members is not what it claims.
        case invalidArchive = "invalid-archive"
        /// An output cannot be written (a file that is in the way, a failed copy).
        case writeFailed = "write-failed"
        /// A blob an export needs is not in the store.
        case missingBlob = "missing-blob"
        /// A request the outputs cannot honour (several platforms in a docker archive).
        case unsupported
        /// A build cache to import is missing, unreadable, corrupt or of another version.
        case invalidCache = "invalid-cache"
    }

    package var code: Code
    package var message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }
    package var errorCode: String { code.rawValue }
}
