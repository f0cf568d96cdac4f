package import ImgErrors

/// Everything the registry client can fail with. `code` is stable for callers and tests to match on;
/// `description` is one line a user can act on, naming the reference or host involved.
package struct RegistryError: ImgError {
    package enum Code: String, Sendable, Hashable, CaseIterable {
        /// 401 even after authenticating, or the token server refused the credentials.
        case unauthorized
        /// 403: authenticated but not allowed.
        case denied
        /// 404 for a manifest, blob or repository.
        case notFound = "not-found"
        /// Bytes that do not hash to the digest they were asked for by.
        case digestMismatch = "digest-mismatch"
        /// More or fewer bytes than the descriptor's size.
        case sizeMismatch = "size-mismatch"
        /// 429 or 5xx that outlived the retries.
        case unavailable
        /// The connection failed (refused, reset, TLS) and retries did not help.
        case network
        /// The registry answered something the distribution spec does not allow.
        case protocolError = "protocol-error"
        /// A config file (config.json, config.toml) or credential helper failed.
        case configuration
        /// No manifest in an index matches the requested platform.
        case platformNotFound = "platform-not-found"
    }

    package var code: Code
    /// One line, complete: it starts with the kind of failure when that reads naturally.
    package var message: String
    /// The error underneath (a socket error, a decoding error), for `--debug` output.
    package var underlying: (any Error & Sendable)?

    package init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// The whole line shown to the user (`not found: 127.0.0.1:5000/x:latest`).
    package var description: String { message }
    package var errorCode: String { code.rawValue }
    package var underlyingError: (any Error)? { underlying }
}
