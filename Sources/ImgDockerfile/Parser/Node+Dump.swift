/// The AST rendering BuildKit's parser tests compare against (`Node.Dump()`).
extension Node {
    /// `(name ["--flag"...] "arg"...)`; an ONBUILD trigger is rendered the same way inside its parent.
    package func dump() -> String {
        var text = "(" + keyword
        if !flags.isEmpty {
            text += " [" + flags.map(GoQuote.quote).joined(separator: " ") + "]"
        }
        if let trigger {
            text += " " + trigger.dump()
        }
        for argument in arguments {
            text += " " + GoQuote.quote(argument)
        }
        return text + ")"
    }
}

extension ParsedDockerfile {
    /// One dumped instruction per line, without a final newline (like BuildKit's root dump).
    package func dump() -> String {
        nodes.map { $0.dump() }.joined(separator: "\n")
    }
}
