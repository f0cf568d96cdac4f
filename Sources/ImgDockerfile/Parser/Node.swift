/// One instruction of a Dockerfile as the parser sees it: keyword, flags, arguments and heredocs, with the
/// physical lines it came from. Typed meaning is given later by `Instruction`.
///
/// The fields live in one copy-on-write storage object, so a `Node` is one word: the parsed file, its typed
/// instructions and a plan's expanded copies all share a node instead of each holding its hundred-odd bytes
/// (what kept 100,000-line files from planning in little memory).
package struct Node: Sendable, Hashable {
    /// The keyword lower-cased (`run`, `copy`, ...); unknown keywords are kept as written, lower-cased.
    package var keyword: String {
        get { storage.keyword }
        set { unique().keyword = newValue }
    }
    /// The keyword exactly as written (`Run`), for casing checks.
    package var keywordAsWritten: String {
        get { storage.keywordAsWritten }
        set { unique().keywordAsWritten = newValue }
    }
    /// Leading `--flag[=value]` words, after quote removal; a bare `--` ends them and is dropped.
    package var flags: [String] {
        get { storage.flags }
        set { unique().flags = newValue }
    }
    /// Argument nodes as BuildKit's AST holds them (see the conformance README for the per-keyword rules).
    package var arguments: [String] {
        get { storage.arguments }
        set { unique().arguments = newValue }
    }
    /// True when the arguments came from a JSON (exec form) array.
    package var isJSON: Bool {
        get { storage.isJSON }
        set { unique().isJSON = newValue }
    }
    /// Heredocs attached to RUN/COPY/ADD (also under ONBUILD), in the order they appear on the line.
    /// For ONBUILD they are on the ONBUILD node (as upstream has them) and on its `trigger` too.
    package var heredocs: [Heredoc] {
        get { storage.heredocs }
        set { unique().heredocs = newValue }
    }
    /// The whole joined instruction line (continuations joined, comments removed), keyword included.
    /// For an ONBUILD trigger, the text after `ONBUILD` and its flags.
    package var original: String {
        get { storage.original }
        set { unique().original = newValue }
    }
    /// 1-based first and last physical line; the last is the last line the instruction consumed
    /// (heredoc bodies included). An ONBUILD trigger has its parent's lines.
    package var startLine: Int {
        get { storage.startLine }
        set { unique().startLine = newValue }
    }
    package var endLine: Int {
        get { storage.endLine }
        set { unique().endLine = newValue }
    }
    /// Text of the ordinary `#` comment lines just before the instruction (BuildKit's `PrevComment`),
    /// without the `#`; an empty `#` line starts the list afresh.
    package var comments: [String] {
        get { storage.comments }
        set { unique().comments = newValue }
    }
    /// The trigger of an ONBUILD instruction (the storage is a class, so `Node` can nest).
    package var trigger: Node? {
        get { storage.trigger }
        set { unique().trigger = newValue }
    }

    private var storage: Storage

    package init(
        keyword: String, keywordAsWritten: String? = nil, flags: [String] = [], arguments: [String] = [],
        isJSON: Bool = false, heredocs: [Heredoc] = [], original: String = "", startLine: Int = 0,
        endLine: Int = 0, trigger: Node? = nil
    ) {
        storage = Storage(
            keyword: keyword, keywordAsWritten: keywordAsWritten ?? keyword, flags: flags, arguments: arguments,
            isJSON: isJSON, heredocs: heredocs, original: original, startLine: startLine, endLine: endLine,
            comments: [], trigger: trigger)
    }

    /// The storage, copied first when another node shares it.
    private mutating func unique() -> Storage {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return storage
    }

    package static func == (a: Node, b: Node) -> Bool { a.storage === b.storage || a.storage.fields == b.storage.fields }
    package func hash(into hasher: inout Hasher) { hasher.combine(storage.fields) }

    /// Mutated only through `unique()`, that is while no other node can see it: safe to share across threads.
    private final class Storage: @unchecked Sendable {
        var keyword: String
        var keywordAsWritten: String
        var flags: [String]
        var arguments: [String]
        var isJSON: Bool
        var heredocs: [Heredoc]
        var original: String
        var startLine: Int
        var endLine: Int
        var comments: [String]
        var trigger: Node?

        init(keyword: String, keywordAsWritten: String, flags: [String], arguments: [String], isJSON: Bool,
             heredocs: [Heredoc], original: String, startLine: Int, endLine: Int, comments: [String], trigger: Node?) {
            self.keyword = keyword
            self.keywordAsWritten = keywordAsWritten
            self.flags = flags
            self.arguments = arguments
            self.isJSON = isJSON
            self.heredocs = heredocs
            self.original = original
            self.startLine = startLine
            self.endLine = endLine
            self.comments = comments
            self.trigger = trigger
        }

        func copy() -> Storage {
            Storage(keyword: keyword, keywordAsWritten: keywordAsWritten, flags: flags, arguments: arguments,
                    isJSON: isJSON, heredocs: heredocs, original: original, startLine: startLine, endLine: endLine,
                    comments: comments, trigger: trigger)
        }

        /// Every field, for equality and hashing.
        var fields: Fields {
            Fields(keyword: keyword, keywordAsWritten: keywordAsWritten, flags: flags, arguments: arguments,
                   isJSON: isJSON, heredocs: heredocs, original: original, startLine: startLine, endLine: endLine,
                   comments: comments, trigger: trigger)
        }
    }

    private struct Fields: Hashable {
        var keyword: String
        var keywordAsWritten: String
        var flags: [String]
        var arguments: [String]
        var isJSON: Bool
        var heredocs: [Heredoc]
        var original: String
        var startLine: Int
        var endLine: Int
        var comments: [String]
        var trigger: Node?
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
