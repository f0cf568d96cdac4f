package import ImgSystem
package import ImgErrors

/// Anything that goes wrong reading, writing, applying or diffing an archive. `description` is one line
/// naming the archive and the entry: `layer sha256:…: entry "../x" escapes the root`.
package struct ArchiveError: ImgError, Hashable {
    /// Stable codes for callers and tests to match on.
    package enum Code: String, Sendable, Hashable, CaseIterable {
        /// A name or hardlink target that would leave the root (`../x`, `a/../../x`).
        case escapesRoot = "escapes-root"
        /// A hardlink whose target is missing, a directory, or otherwise unusable.
        case badHardlink = "bad-hardlink"
        /// Path resolution failed: a symlink loop, a file where a directory is needed.
        case unresolvable
        /// The archive itself is damaged or not a tar.
        case format
        /// A file system call failed.
        case io
        /// Something this build or file system cannot do (e.g. overlay whiteouts without mknod or xattrs).
        case unsupported
        /// Content did not match the digest it was expected to have.
        case digestMismatch = "digest-mismatch"
        /// The caller's sink or source failed.
        case stream
    }

    package var code: Code
    /// What is being read or written: `layer sha256:…`, a file path.
    package var archive: String?
    /// The entry inside it, when there is one.
    package var entry: String?
    package var message: String
    package var cause: SystemError?

    package init(_ code: Code, _ message: String, archive: String? = nil, entry: String? = nil, cause: SystemError? = nil) {
        self.code = code
        self.message = message
        self.archive = archive
        self.entry = entry
        self.cause = cause
    }

    package var errorCode: String { code.rawValue }
    package var underlyingError: (any Error)? { cause }

    package var description: String {
        if let cause, cause.isDiskFull {
            // What filled up matters, not the tar entry's format: say it the way a shell would.
            let written = [entry.map { "\"\($0)\"" }, archive].compactMap { $0 }.joined(separator: " of ")
            return "no space left on device writing \(written.isEmpty ? cause.operation : written)"
        }
        var text = ""
        if let archive { text += "\(archive): " }
        if let entry { text += "entry \"\(entry)\" " }
        text += message
        if let cause { text += " (\(cause))" }
        return text
    }

    /// True when a write failed because the disk is full.
    package var isDiskFull: Bool { cause?.isDiskFull == true }

    func labelled(_ archive: String?) -> ArchiveError {
        var copy = self
        if copy.archive == nil { copy.archive = archive }
        return copy
    }
}
