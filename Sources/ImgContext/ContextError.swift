package import ImgErrors

/// A COPY/ADD failure, one line naming the path or pattern, worded like docker's.
package struct ContextError: ImgError, Hashable {
    package enum Code: String, Sendable, Hashable, CaseIterable {
        /// A named source does not exist (or is hidden by `.dockerignore`).
        case notFound = "not-found"
        /// Wildcards matched nothing at all.
        case noSources = "no-sources"
        /// A wildcard, `--exclude` or ignore pattern that does not parse.
        case invalidPattern = "invalid-pattern"
        /// `--chown` / `--chmod` that cannot be used.
        case invalidOption = "invalid-option"
        /// The destination cannot take what is copied (several sources to a file, a directory onto a file).
        case invalidDestination = "invalid-destination"
        /// The source tree or the rootfs could not be read or written.
        case io
        /// The checksum cache database failed.
        case database
    }

    package var code: Code
    package var message: String
    /// The instruction the failure is reported for ("COPY", "ADD"); nil for errors outside one.
    package var instruction: String?

    package init(_ code: Code, _ message: String, instruction: String? = "COPY") {
        self.code = code
        self.message = message
        self.instruction = instruction
    }

    package var errorCode: String { code.rawValue }

    package var description: String {
        if let instruction { return "\(instruction) failed: \(message)" }
        return message
    }

    /// The same error reported for another instruction (the build worker says ADD for ADD).
    package func reported(as instruction: String) -> ContextError {
        var copy = self
        copy.instruction = instruction
        return copy
    }
}
