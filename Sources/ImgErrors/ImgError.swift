/// The shape every error img reports shares, so that callers (the command line, a library user, a test) can
/// handle them all alike: a stable code, one line for the user, and what caused it.
///
/// `description` is that one line, without an `error: ` prefix; the command line prints it once, whatever
/// the type.
package protocol ImgError: Error, Sendable, CustomStringConvertible {
    /// A stable kebab-case name of what went wrong (`digest-mismatch`, `not-found`): for scripts, logs and
    /// tests; it never changes with the wording of the message.
    var errorCode: String { get }
    /// The error this one wraps, if it came from elsewhere (a system call, another layer).
    var underlyingError: (any Error)? { get }
}

extension ImgError {
    package var underlyingError: (any Error)? { nil }

    /// This error's chain of causes, itself first.
    package var causes: [any Error] {
        var chain: [any Error] = [self]
        var next = underlyingError
        while let error = next, chain.count < 16 {
            chain.append(error)
            next = (error as? any ImgError)?.underlyingError
        }
        return chain
    }
}
