package import ImgErrors

/// A build failure a user can act on: one line, naming the Dockerfile line when it comes from one.
package struct BuildError: ImgError {
    package var message: String

    package init(_ message: String) { self.message = message }

    /// `Dockerfile:7: COPY failed: ...`
    package init(file: String, line: Int, _ message: String) {
        self.message = "\(file):\(line): \(message)"
    }

    package var description: String { message }
    package var errorCode: String { "build-failed" }
}
