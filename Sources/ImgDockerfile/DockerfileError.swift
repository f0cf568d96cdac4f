package import ImgErrors

/// Every error the Dockerfile frontend reports. Its `description` is the one line a user sees:
/// `Dockerfile:7: unknown instruction: FORM (did you mean FROM?)`.
package struct DockerfileError: ImgError, Hashable {
    /// A stable machine-readable code (`parse`, `expansion`, `stage`, `ignore`, ...).
    package var code: String
    package var message: String
    /// The file the error is in, as the user named it; nil when not known.
    package var file: String?
    /// 1-based line, when known.
    package var line: Int?

    package init(_ code: String, _ message: String, file: String? = nil, line: Int? = nil) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    /// The same error, placed in `file` (and at `line` when it had none).
    package func located(file: String, line: Int? = nil) -> DockerfileError {
        var copy = self
        copy.file = file
        if copy.line == nil { copy.line = line }
        return copy
    }

    package var errorCode: String { code }

    package var description: String {
        switch (file, line) {
        case let (file?, line?): "\(file):\(line): \(message)"
        case let (file?, nil): "\(file): \(message)"
        case let (nil, line?): "line \(line): \(message)"
        case (nil, nil): message
        }
    }
}
