/// The argument parsers on their own, for callers (and tests) that have a text rather than a file.
extension DockerfileParser {
    /// The quote-aware word split ARG and ENV/LABEL use: quotes and escapes stay in the words.
    package static func splitWords(_ text: String, escape: Character = "\\") -> [String] {
        var bytes = Array(text.utf8)
        let escapeByte = escape == "`" ? ASCII.backtick : ASCII.backslash
        return bytes.withUnsafeMutableBufferPointer { buffer in
            let line = Bytes(buffer)
            let builder = InstructionBuilder(line: line, escape: escapeByte)
            return builder.words(0..<line.count).map { line.string($0) }
        }
    }

    /// The exec-form (JSON array) arguments of `text`; nil when it is not a JSON array, so the shell
    /// form applies; an error when it is an array holding something other than strings.
    package static func parseExecForm(_ text: String) throws(DockerfileError) -> [String]? {
        var bytes = Array(text.utf8)
        let result = bytes.withUnsafeMutableBufferPointer { buffer in
            let line = Bytes(buffer)
            let trimmed = line.trimmingSpaces(0..<line.count)
            guard !trimmed.isEmpty, line[trimmed.lowerBound] == ASCII.openBracket else { return ExecFormJSON.ArrayResult.invalid }
            return ExecFormJSON.parseArray(line, trimmed)
        }
        switch result {
        case .strings(let list): return list
        case .invalid: return nil
        case .notAllStrings: throw error("exec form arguments must be strings (JSON array holds a non-string)")
        }
    }
}
