// CONTRACT STUB — the parser helper replaces the body; the signature is what other code uses.

package enum DockerfileParser {
    /// Parses Dockerfile bytes (BOM, CRLF accepted). `file` names the file in errors.
    package static func parse(_ bytes: [UInt8], file: String = "Dockerfile") throws(DockerfileError) -> ParsedDockerfile {
        fatalError("not yet implemented")
    }

    package static func parse(_ text: String, file: String = "Dockerfile") throws(DockerfileError) -> ParsedDockerfile {
        try parse(Array(text.utf8), file: file)
    }
}
