package import ImgErrors

/// A RUN step that could not run or did not succeed; `description` is the one line for the user.
package struct RuntimeError: ImgError, Hashable {
    package enum Code: String, Sendable, Hashable, CaseIterable {
        /// The OCI runtime binary is missing.
        case runtimeNotFound = "runtime-not-found"
        /// The step's command exited with a non-zero code (`exitCode`).
        case nonZeroExit = "non-zero-exit"
        /// The step's command was killed by a signal.
        case killed = "killed"
        /// The step was cancelled (Ctrl-C, SIGTERM, task cancellation); the container is gone.
        case cancelled = "cancelled"
        /// `USER` names a user or group the image does not have.
        case unknownUser = "unknown-user"
        /// runc itself failed (bad spec, mount refused, …).
        case runtimeFailed = "runtime-failed"
        /// Preparing the bundle or talking to the runtime failed at the system level.
        case system = "system"
    }

    package var code: Code
    package var message: String
    /// For `nonZeroExit`: the command's exit code.
    package var exitCode: Int32?
    /// What the place img runs in may have to do with the failure, to append to any message about it
    /// (empty, or starting with a space).
    package var hint = ""

    package init(_ code: Code, _ message: String, exitCode: Int32? = nil) {
        self.code = code
        self.message = message
        self.exitCode = exitCode
    }

    package var description: String { message }
    package var errorCode: String { code.rawValue }
}
