/// One instruction of a Dockerfile as the parser sees it: keyword, flags, arguments and heredocs, with the
/// physical lines it came from. Typed meaning is given later by `Instruction`.
package struct Node: Sendable, Hashable {
    /// The keyword lower-cased (`run`, `copy`, ...); unknown keywords are kept as written, lower-cased.
    package var keyword: String
    /// The keyword exactly as written (`Run`), for casing checks.
    package var keywordAsWritten: String
    /// Leading `--flag[=value]` words, after quote removal; a bare `--` ends them and is dropped.
    package var flags: [String]
    /// Argument nodes as BuildKit's AST holds them (see the conformance README for the per-keyword rules).
    package var arguments: [String]
    /// True when the arguments came from a JSON (exec form) array.
    package var isJSON: Bool
    /// Heredocs attached to RUN/COPY/ADD (also under ONBUILD), in the order they appear on the line.
    package var heredocs: [Heredoc]
    /// The whole joined instruction line (continuations joined, comments removed), keyword included.
    package var original: String
    /// 1-based first and last physical line; the last is the last line the instruction consumed
    /// (heredoc bodies included).
    package var startLine: Int
    package var endLine: Int
    /// The trigger of an ONBUILD instruction. Stored boxed so that `Node` can nest.
    package var trigger: Node? {
        get { triggerStorage.first }
        set { triggerStorage = newValue.map { [$0] } ?? [] }
    }
    private var triggerStorage: [Node] = []

    package init(
        keyword: String, keywordAsWritten: String? = nil, flags: [String] = [], arguments: [String] = [],
        isJSON: Bool = false, heredocs: [Heredoc] = [], original: String = "", startLine: Int = 0,
        endLine: Int = 0, trigger: Node? = nil
    ) {
        self.keyword = keyword
        self.keywordAsWritten = keywordAsWritten ?? keyword
        self.flags = flags
        self.arguments = arguments
        self.isJSON = isJSON
        self.heredocs = heredocs
        self.original = original
        self.startLine = startLine
        self.endLine = endLine
        self.trigger = trigger
    }
}

/// A heredoc body attached to an instruction (`<<EOF`, `<<-EOF`, `3<<'EOF'`).
package struct Heredoc: Sendable, Hashable {
    package var name: String
    /// The body as read, every line with its newline, *not* yet tab-stripped for `<<-`.
    package var content: String
    /// False when any part of the delimiter word was quoted: the body is then taken literally.
    package var expand: Bool
    /// True for `<<-`: leading tabs are stripped from body lines when the body is used.
    package var chomp: Bool
    /// The file descriptor in `3<<EOF`; 0 when none was written.
    package var fileDescriptor: Int

    package init(name: String, content: String, expand: Bool, chomp: Bool, fileDescriptor: Int) {
        self.name = name
        self.content = content
        self.expand = expand
        self.chomp = chomp
        self.fileDescriptor = fileDescriptor
    }
}

/// Parser directives found at the top of the file.
package struct Directives: Sendable, Hashable {
    /// `\` unless `# escape=` chose the backtick.
    package var escape: Character = "\\"
    /// `# syntax=` (or the value detected from a shebang/`//` comment form), if any.
    package var syntax: String?
    /// The raw `# check=` value, if any (`skip=A,B;error=true`).
    package var check: String?
    /// 1-based line of each directive seen, by lower-cased name.
    package var lines: [String: Int] = [:]

    package init() {}
}

/// A non-fatal finding from parsing (for example an empty continuation line).
package struct ParseWarning: Sendable, Hashable {
    package var message: String
    /// 1-based line the warning is about.
    package var line: Int
    package init(message: String, line: Int) {
        self.message = message
        self.line = line
    }
}

/// The parsed file: instructions in order, directives, warnings.
package struct ParsedDockerfile: Sendable, Hashable {
    package var nodes: [Node]
    package var directives: Directives
    package var warnings: [ParseWarning]
    /// 1-based last line of the file.
    package var endLine: Int

    package init(nodes: [Node], directives: Directives, warnings: [ParseWarning], endLine: Int) {
        self.nodes = nodes
        self.directives = directives
        self.warnings = warnings
        self.endLine = endLine
    }
}
