import ImgDockerfile

/// A file given inline (a COPY/ADD heredoc): its name, body, and whether the body is expanded with the
/// stage's variables (an unquoted delimiter) when the step runs.
package struct InlineFile: Sendable, Hashable {
    package var name: String
    package var content: String
    package var expand: Bool

    package init(name: String, content: String, expand: Bool) {
        self.name = name
        self.content = content
        self.expand = expand
    }

    /// The file with its body expanded as the Dockerfile shell would (quotes kept), given `NAME=value`
    /// entries; unchanged when `expand` is false.
    package func expanded(environment: [String]) throws -> InlineFile {
        guard expand else { return self }
        var lexer = ShellLexer()
        lexer.keepQuotes = true
        let variables = environment.map { item in
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            return (parts[0], parts.count == 2 ? parts[1] : "")
        }
        var file = self
        file.content = try lexer.expandWord(content, env: ShellEnvironment(variables)).value
        return file
    }
}
