/// Turns Dockerfile bytes into `Node`s the way BuildKit's `parser.Parse` does (see the conformance
/// README for the rules). Works on UTF-8 bytes in one forward pass; strings are made only for the
/// values a `Node` keeps.
package enum DockerfileParser {
    /// Upstream reads lines with Go's 64 KiB scanner buffer; a longer line fails the whole parse.
    static let maxLineLength = 65535

    /// Parses Dockerfile bytes (BOM, CRLF accepted). `file` names the file in errors.
    package static func parse(_ bytes: [UInt8], file: String = "Dockerfile") throws(DockerfileError) -> ParsedDockerfile {
        let result: Result<ParsedDockerfile, DockerfileError> = bytes.withUnsafeBufferPointer { buffer in
            var reader = DockerfileReader(input: buffer, file: file)
            do throws(DockerfileError) {
                var parsed = try reader.run()
                parsed.directives.complete(from: buffer)
                return .success(parsed)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    package static func parse(_ text: String, file: String = "Dockerfile") throws(DockerfileError) -> ParsedDockerfile {
        try parse(Array(text.utf8), file: file)
    }

    static func error(_ message: String) -> DockerfileError {
        DockerfileError("parse", message)
    }
}
