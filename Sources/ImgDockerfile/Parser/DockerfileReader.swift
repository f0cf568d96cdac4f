/// One physical line: `start..<end` is its text without the trailing `\r`s and `\n`; `rawEnd` is past
/// the `\n` (heredoc bodies keep the line ending as written).
struct PhysicalLine {
    var start: Int
    var end: Int
    var rawEnd: Int
}

/// The state of one parse: a cursor over the physical lines plus what has been found so far.
struct DockerfileReader {
    let input: Bytes
    let file: String
    private var position = 0
    /// 1-based number of the last line read.
    private var lineNumber = 0
    private var escape = ASCII.backslash
    private var directiveScanner = DirectiveScanner(prefix: .hash)
    private var directives = Directives()
    private var nodes: [Node] = []
    private var warnings: [ParseWarning] = []
    /// Ordinary comment lines seen since the last instruction (BuildKit's `PrevComment`).
    private var comments: [String] = []
    /// The joined instruction line being built; reused to avoid an allocation per instruction.
    private let lineBuffer = LineBuffer(capacity: 512)

    init(input: Bytes, file: String) {
        self.input = input
        self.file = file
        // A rough guess (about one instruction per 60 bytes) saves most regrowth of the node list.
        nodes.reserveCapacity(Swift.min(input.count / 60 + 4, 100_000))
    }

    private func located(_ error: DockerfileError, line: Int?) -> DockerfileError {
        error.located(file: file, line: line)
    }

    /// The next physical line, or nil at end of input.
    private mutating func nextLine() throws(DockerfileError) -> PhysicalLine? {
        let count = input.count
        guard position < count else { return nil }
        let start = position
        let newline = input.firstIndex(of: ASCII.newline, in: start..<count) ?? count
        lineNumber += 1
        if newline - start > DockerfileParser.maxLineLength {
            throw located(
                DockerfileParser.error("dockerfile line greater than max allowed size of \(DockerfileParser.maxLineLength)"),
                line: lineNumber)
        }
        var end = newline
        while end > start, input[end - 1] == ASCII.carriageReturn { end -= 1 }
        position = newline < count ? newline + 1 : count
        return PhysicalLine(start: start, end: end, rawEnd: position)
    }

    /// `end` without a trailing continuation (escape + spaces/tabs), and whether the line ends the
    /// instruction. An escape preceded by another escape (`\\`) is text, not a continuation.
    private func trimmingContinuation(_ start: Int, _ end: Int) -> (end: Int, isEndOfLine: Bool) {
        var index = end
        while index > start, input[index - 1] == ASCII.space || input[index - 1] == ASCII.tab { index -= 1 }
        guard index > start, input[index - 1] == escape else { return (end, true) }
        if index - 1 > start, input[index - 2] == escape { return (end, true) }
        return (index - 1, false)
    }

    mutating func run() throws(DockerfileError) -> ParsedDockerfile {
        while let line = try nextLine() {
            var start = line.start
            if lineNumber == 1, line.end - start >= 3, input[start] == 0xEF, input[start + 1] == 0xBB,
               input[start + 2] == 0xBF
            {
                start += 3
            }
            let end = line.end
            let text = input.skippingSpaces(from: start, to: end)
            let isComment = text < end && input[text] == ASCII.hash
            if isComment { noteComment(text + 1, end) }
            if !directiveScanner.done { try scanDirective(text, end) }
            let contentEnd = isComment ? text : end

            let startLine = lineNumber
            var (joinedEnd, isEndOfLine) = trimmingContinuation(text, contentEnd)
            if isEndOfLine, joinedEnd == text { continue }
            lineBuffer.removeAll()
            lineBuffer.append(input, text..<joinedEnd)

            var hasEmptyContinuationLine = false
            while !isEndOfLine, let next = try nextLine() {
                let nextText = input.skippingSpaces(from: next.start, to: next.end)
                // Comment lines inside a continuation vanish; blank ones too, but upstream warns about them.
                if nextText < next.end, input[nextText] == ASCII.hash { continue }
                if nextText == next.end {
                    hasEmptyContinuationLine = true
                    continue
                }
                (joinedEnd, isEndOfLine) = trimmingContinuation(next.start, next.end)
                lineBuffer.append(input, next.start..<joinedEnd)
            }

            try finishInstruction(startLine: startLine, hasEmptyContinuationLine: hasEmptyContinuationLine)
        }

        guard let last = nodes.last else {
            throw located(DockerfileParser.error("file with no instructions"), line: nil)
        }
        directives.escape = escape == ASCII.backtick ? "`" : "\\"
        return ParsedDockerfile(
            nodes: nodes, directives: directives, warnings: warnings, endLine: last.endLine, lineCount: lineNumber)
    }

    /// Builds the node for the joined line in `lineBuffer`, reads its heredoc bodies and stores it.
    private mutating func finishInstruction(startLine: Int, hasEmptyContinuationLine: Bool) throws(DockerfileError) {
        let line = lineBuffer.bytes
        let whole = 0..<line.count
        // A line joined from nothing but escapes and blanks holds no instruction.
        if line.trimmingSpaces(whole).isEmpty { return }
        var node: Node
        var pending: [PendingHeredoc] = []
        do {
            let takesHeredocs: Bool
            (node, takesHeredocs) = try InstructionBuilder(line: line, escape: escape).node(whole, depth: 0)
            if takesHeredocs, line.containsHeredocMarker(in: whole) {
                pending = try HeredocScanner.heredocs(inLine: line, whole)
            }
        } catch {
            throw located(error, line: startLine)
        }
        node.original = line.string(whole)

        if hasEmptyContinuationLine {
            warnings.append(ParseWarning(
                message: "Empty continuation line found in: \(node.original)",
                line: lineNumber,
                detail: "Empty continuation lines will become errors in a future release",
                url: "https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/",
                rule: "NoEmptyContinuation"))
        }

        for index in pending.indices {
            pending[index].heredoc.content = try readHeredocBody(pending[index], startLine: startLine)
        }
        let heredocs = pending.map(\.heredoc)
        node.heredocs = heredocs
        node.startLine = startLine
        node.endLine = lineNumber
        if var trigger = node.trigger {
            // The trigger carries its own copy so that it can be read as a standalone instruction.
            trigger.heredocs = heredocs
            trigger.startLine = startLine
            trigger.endLine = lineNumber
            node.trigger = trigger
        }
        node.comments = comments
        comments.removeAll()
        nodes.append(node)
    }

    /// Reads body lines up to the terminator; the body keeps its line endings and is not chomped.
    /// Body lines are consecutive in the input, so the body is one slice of it.
    private mutating func readHeredocBody(_ pending: PendingHeredoc, startLine: Int) throws(DockerfileError) -> String {
        let bodyStart = position
        let terminator = pending.terminator
        while let line = try nextLine() {
            var start = line.start
            if pending.heredoc.chomp {
                while start < line.end, input[start] == ASCII.tab { start += 1 }
            }
            if line.end - start == terminator.count,
               terminator.withUnsafeBufferPointer({ $0.elementsEqual(UnsafeBufferPointer(rebasing: input[start..<line.end])) })
            {
                return input.string(bodyStart..<line.start)
            }
        }
        throw located(
            DockerfileParser.error("unterminated heredoc: no line \(GoQuote.quote(pending.heredoc.name)) ends it"),
            line: startLine)
    }

    /// Keeps the text of an ordinary comment line for the next instruction; an empty `#` resets the list.
    private mutating func noteComment(_ start: Int, _ end: Int) {
        let range = input.trimmingSpaces(start..<end)
        if range.isEmpty {
            comments.removeAll()
        } else {
            comments.append(input.string(range))
        }
    }

    /// Parser directives at the top of the file; the first line that is not one ends the scan for good.
    private mutating func scanDirective(_ start: Int, _ end: Int) throws(DockerfileError) {
        let found: ScannedDirective?
        do {
            found = try directiveScanner.scan(input, start..<end, lineNumber: lineNumber)
        } catch {
            throw located(error, line: lineNumber)
        }
        guard let found else { return }
        if found.name == "escape" {
            switch found.value {
            case "\\": escape = ASCII.backslash
            case "`": escape = ASCII.backtick
            default:
                throw located(
                    DockerfileParser.error("invalid escape token \(GoQuote.quote(found.value)): it must be ` or \\"),
                    line: lineNumber)
            }
        }
        directives.record(found)
    }
}
