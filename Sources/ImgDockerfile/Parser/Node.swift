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
    /// For ONBUILD they are on the ONBUILD node (as upstream has them) and on its `trigger` too.
    package var heredocs: [Heredoc]
    /// The whole joined instruction line (continuations joined, comments removed), keyword included.
    /// For an ONBUILD trigger, the text after `ONBUILD` and its flags.
    package var original: String
    /// 1-based first and last physical line; the last is the last line the instruction consumed
    /// (heredoc bodies included). An ONBUILD trigger has its parent's lines.
    package var startLine: Int
    package var endLine: Int
    /// Text of the ordinary `#` comment lines just before the instruction (BuildKit's `PrevComment`),
    /// without the `#`; an empty `#` line starts the list afresh.
    package var comments: [String] = []
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
    /// The whole `# syntax=` value (or the one detected after a shebang line, in a `//` comment or a JSON
    /// object), if any. The image reference is the part before the first space.
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
    /// 1-based line the warning is about. For an empty continuation line it is the instruction's last
    /// line, as upstream reports it.
    package var line: Int
    /// A longer explanation (`Empty continuation lines will become errors in a future release`).
    package var detail: String
    /// Documentation link, when there is one.
    package var url: String?
    /// The lint rule the warning belongs to (`NoEmptyContinuation`), when there is one.
    package var rule: String?

    package init(message: String, line: Int, detail: String = "", url: String? = nil, rule: String? = nil) {
        self.message = message
        self.line = line
        self.detail = detail
        self.url = url
        self.rule = rule
    }
}

/// The parsed file: instructions in order, directives, warnings.
package struct ParsedDockerfile: Sendable, Hashable {
    package var nodes: [Node]
    package var directives: Directives
    package var warnings: [ParseWarning]
    /// 1-based last line of the last instruction (BuildKit's root range; trailing blank and comment
    /// lines after it are not counted).
    package var endLine: Int
    /// 1-based first line of the first instruction.
    package var startLine: Int { nodes.first?.startLine ?? 0 }
    /// Number of physical lines in the file (a last line without `\n` counts).
    package var lineCount: Int

    package init(
        nodes: [Node], directives: Directives, warnings: [ParseWarning], endLine: Int, lineCount: Int = 0
    ) {
        self.lineCount = lineCount
        self.nodes = nodes
        self.directives = directives
        self.warnings = warnings
        self.endLine = endLine
    }
}
