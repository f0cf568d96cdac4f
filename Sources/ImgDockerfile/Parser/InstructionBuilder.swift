/// Splits one joined instruction line into keyword, flags and argument nodes: BuildKit's
/// `newNodeFromLine` with its per-keyword argument parsers. Works on byte ranges of `line`.
struct InstructionBuilder {
    let line: Bytes
    /// The escape character chosen by the `escape` directive (`\` or `` ` ``).
    let escape: UInt8

    /// `ONBUILD ONBUILD ...` is rejected later anyway; the cap keeps recursion (here and in `Node`'s
    /// synthesized conformances) shallow on hostile input.
    static let maxTriggerDepth = 8

    /// The keywords with their own argument rules; matching them once avoids string comparisons.
    enum Kind {
        case from, expose, add, copy, volume, run, cmd, entrypoint, shell, healthcheck, env, label, arg
        case maintainer, stopsignal, user, workdir, onbuild, unknown
    }

    /// The node for the instruction in `range`, and whether it takes heredocs (RUN, COPY, ADD, also as
    /// an ONBUILD trigger, never in JSON form).
    func node(_ range: Range<Int>, depth: Int) throws(DockerfileError) -> (node: Node, takesHeredocs: Bool) {
        let trimmed = line.trimmingSpaces(range)
        var keywordEnd = trimmed.lowerBound
        while keywordEnd < trimmed.upperBound, !isASCIISpace(line[keywordEnd]) { keywordEnd += 1 }
        let keywordRange = trimmed.lowerBound..<keywordEnd
        let (keyword, kind) = lowercased(keywordRange)
        var node = Node(keyword: keyword, keywordAsWritten: line.string(keywordRange))
        var takesHeredocs = false

        var text = trimmed.upperBound..<trimmed.upperBound
        if keywordEnd < trimmed.upperBound {
            var restStart = keywordEnd
            while restStart < trimmed.upperBound, isASCIISpace(line[restStart]) { restStart += 1 }
            let argumentsStart: Int
            (argumentsStart, node.flags) = extractFlags(restStart..<trimmed.upperBound)
            text = line.trimmingSpaces(argumentsStart..<trimmed.upperBound)
        }

        switch kind {
        case .from, .expose:
            node.arguments = whitespaceSplit(text)
        case .add, .copy, .volume:
            if let list = try execForm(text, node) {
                node.arguments = list
                node.isJSON = true
            } else {
                node.arguments = whitespaceSplit(text)
                takesHeredocs = kind != .volume
            }
        case .run, .cmd, .entrypoint, .shell:
            if let list = try execForm(text, node) {
                node.arguments = list
                node.isJSON = true
            } else {
                if !text.isEmpty { node.arguments = [line.string(text)] }
                takesHeredocs = kind == .run
            }
        case .healthcheck:
            try healthcheck(text, &node)
        case .env, .label:
            node.arguments = try nameValuePairs(text, key: kind == .env ? "ENV" : "LABEL")
        case .arg:
            node.arguments = words(text).map { line.string($0) }
        case .maintainer, .stopsignal, .user, .workdir:
            if !text.isEmpty { node.arguments = [line.string(text)] }
        case .onbuild:
            guard !text.isEmpty else { break }
            guard depth < Self.maxTriggerDepth else {
                throw DockerfileParser.error("ONBUILD triggers nested more than \(Self.maxTriggerDepth) deep")
            }
            var (trigger, triggerTakesHeredocs) = try self.node(text, depth: depth + 1)
            trigger.original = line.string(text)
            node.trigger = trigger
            // Only one level: the trigger of `ONBUILD ONBUILD RUN <<EOF` is ONBUILD, which takes none.
            takesHeredocs = triggerTakesHeredocs && trigger.keyword != "onbuild"
        case .unknown:
            // Unknown keywords are not an error here; BuildKit keeps one empty argument and the
            // instruction layer reports them.
            node.arguments = [""]
        }
        return (node, takesHeredocs)
    }

    private static let keywords: [(name: String, bytes: [UInt8], kind: Kind)] = ([
        ("run", .run), ("copy", .copy), ("from", .from), ("env", .env), ("arg", .arg), ("label", .label),
        ("cmd", .cmd), ("add", .add), ("workdir", .workdir), ("user", .user), ("expose", .expose),
        ("entrypoint", .entrypoint), ("volume", .volume), ("healthcheck", .healthcheck), ("shell", .shell),
        ("onbuild", .onbuild), ("stopsignal", .stopsignal), ("maintainer", .maintainer),
    ] as [(String, Kind)]).map { ($0.0, Array($0.0.utf8), $0.1) }

    /// The keyword lower-cased. Known keywords are matched case-insensitively on the bytes and given
    /// as their literal, so the common case builds no string.
    private func lowercased(_ range: Range<Int>) -> (String, Kind) {
        let count = range.count
        candidates: for keyword in Self.keywords where keyword.bytes.count == count {
            var offset = 0
            for index in range {
                let byte = line[index]
                let lower = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
                if lower != keyword.bytes[offset] { continue candidates }
                offset += 1
            }
            return (keyword.name, keyword.kind)
        }
        for index in range where line[index] >= 0x80 {
            // Unicode lower-casing can still land on a keyword (U+212A KELVIN SIGN becomes `k`).
            let lowered = line.string(range).lowercased()
            return (lowered, Self.keywords.first { $0.name == lowered }?.kind ?? .unknown)
        }
        let lowered = String(unsafeUninitializedCapacity: range.count) { buffer in
            var out = 0
            for index in range {
                let byte = line[index]
                buffer[out] = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
                out += 1
            }
            return out
        }
        return (lowered, .unknown)
    }

    /// Leading `--name[=value]` words: quotes removed, `\` escapes the next byte, a bare `--` ends the
    /// flags and is dropped. Returns where the arguments start.
    private func extractFlags(_ range: Range<Int>) -> (argumentsStart: Int, flags: [String]) {
        let end = range.upperBound
        var flags: [String] = []
        var pos = range.lowerBound
        // Fast path: flags without quotes or backslashes are slices of the line.
        while true {
            pos = line.skippingSpaces(from: pos, to: end)
            guard end - pos >= 2, line[pos] == ASCII.minus, line[pos + 1] == ASCII.minus else { return (pos, flags) }
            var wordEnd = pos
            while wordEnd < end, line.spaceWidth(at: wordEnd, end: end) == 0 {
                let byte = line[wordEnd]
                if byte == ASCII.apostrophe || byte == ASCII.quote || byte == ASCII.backslash {
                    return extractFlagsSlowly(from: pos, end: end, flags: flags)
                }
                wordEnd += 1
            }
            if wordEnd - pos == 2 { return (wordEnd, flags) }
            flags.append(line.string(pos..<wordEnd))
            pos = wordEnd
        }
    }

    /// The general flag lexer (quotes removed, `\` escapes), from the first flag that needs it.
    private func extractFlagsSlowly(from start: Int, end: Int, flags: [String]) -> (argumentsStart: Int, flags: [String]) {
        enum Phase { case spaces, word, quoted }
        var flags = flags
        var word: [UInt8] = []
        var phase = Phase.spaces
        var quote: UInt8 = 0
        var blankOK = false
        var pos = start
        func isDoubleDash(_ word: [UInt8]) -> Bool { word.count == 2 && word[0] == ASCII.minus && word[1] == ASCII.minus }

        while true {
            if phase == .spaces {
                if pos == end { break }
                let width = line.spaceWidth(at: pos, end: end)
                if width > 0 {
                    pos += width
                    continue
                }
                if line[pos] != ASCII.minus || pos + 1 == end || line[pos + 1] != ASCII.minus {
                    return (pos, flags)
                }
                phase = .word
            }
            if pos == end {
                if !isDoubleDash(word), blankOK || !word.isEmpty { flags.append(String(decoding: word, as: UTF8.self)) }
                break
            }
            let byte = line[pos]
            if phase == .word {
                let width = line.spaceWidth(at: pos, end: end)
                if width > 0 {
                    if isDoubleDash(word) { return (pos, flags) }
                    if blankOK || !word.isEmpty { flags.append(String(decoding: word, as: UTF8.self)) }
                    word.removeAll(keepingCapacity: true)
                    blankOK = false
                    phase = .spaces
                    pos += width
                    continue
                }
                if byte == ASCII.apostrophe || byte == ASCII.quote {
                    quote = byte
                    blankOK = true
                    phase = .quoted
                    pos += 1
                    continue
                }
            } else if byte == quote {
                phase = .word
                pos += 1
                continue
            }
            if byte == ASCII.backslash {
                pos += 1
                if pos == end {
                    phase = .word
                    continue
                }
            }
            word.append(line[pos])
            pos += 1
        }
        return (end, flags)
    }

    /// BuildKit's whitespace split (`[\t\v\f\r ]+`), quotes not honoured. `range` is already trimmed.
    private func whitespaceSplit(_ range: Range<Int>) -> [String] {
        var result: [String] = []
        var pos = range.lowerBound
        while pos < range.upperBound {
            while pos < range.upperBound, isASCIISpace(line[pos]) { pos += 1 }
            let start = pos
            while pos < range.upperBound, !isASCIISpace(line[pos]) { pos += 1 }
            if pos > start { result.append(line.string(start..<pos)) }
        }
        return result
    }

    /// The JSON array's strings, or nil when the text is not a JSON array (the shell form applies).
    /// A well-formed array holding anything but strings is an error, not a fallback.
    private func execForm(_ text: Range<Int>, _ node: Node) throws(DockerfileError) -> [String]? {
        guard !text.isEmpty, line[text.lowerBound] == ASCII.openBracket else { return nil }
        switch ExecFormJSON.parseArray(line, text) {
        case .strings(let list): return list
        case .invalid: return nil
        case .notAllStrings:
            throw DockerfileParser.error(
                "\(node.keywordAsWritten.uppercased()): exec form arguments must be strings (JSON array holds a non-string)")
        }
    }

    /// `HEALTHCHECK [flags] TYPE rest`: the type word as written, then `rest` in exec or shell form.
    private func healthcheck(_ text: Range<Int>, _ node: inout Node) throws(DockerfileError) {
        guard !text.isEmpty else { return }
        var separator = text.lowerBound
        while separator < text.upperBound, line.spaceWidth(at: separator, end: text.upperBound) == 0 { separator += 1 }
        node.arguments = [line.string(text.lowerBound..<separator)]
        let command = line.skippingSpaces(from: separator, to: text.upperBound)..<text.upperBound
        guard !command.isEmpty else { return }
        if let list = try execForm(command, node) {
            node.arguments += list
            node.isJSON = true
        } else {
            node.arguments.append(line.string(command))
        }
    }

    /// Quote-aware word split for ARG and ENV/LABEL: quotes and escapes stay in the words, unquoted
    /// white space separates them, an escape as the very last byte is dropped. Words are contiguous
    /// in the line, so they are returned as ranges.
    func words(_ range: Range<Int>) -> [Range<Int>] {
        var result: [Range<Int>] = []
        let end = range.upperBound
        var pos = range.lowerBound
        while pos < end {
            let width = line.spaceWidth(at: pos, end: end)
            if width > 0 {
                pos += width
                continue
            }
            let start = pos
            var wordEnd = -1
            var quote: UInt8 = 0
            while pos < end {
                let byte = line[pos]
                if quote == 0 {
                    if line.spaceWidth(at: pos, end: end) > 0 { break }
                    if byte == ASCII.apostrophe || byte == ASCII.quote {
                        quote = byte
                        pos += 1
                        continue
                    }
                } else if byte == quote {
                    quote = 0
                    pos += 1
                    continue
                }
                if byte == escape, quote != ASCII.apostrophe {
                    if pos + 1 == end {
                        wordEnd = pos
                        pos = end
                        break
                    }
                    pos += 2
                    continue
                }
                pos += 1
            }
            if wordEnd < 0 { wordEnd = pos }
            if wordEnd > start { result.append(start..<wordEnd) }
        }
        return result
    }

    /// ENV/LABEL: old form `KEY name value...` gives `[name, rest, ""]`; new form `a=b c=d` gives
    /// `[a, b, "=", c, d, "="]` with quotes kept in the values.
    private func nameValuePairs(_ text: Range<Int>, key: String) throws(DockerfileError) -> [String] {
        let words = words(text)
        guard let first = words.first else { return [] }
        if !line.contains(ASCII.equals, in: first) {
            var nameEnd = text.lowerBound
            while nameEnd < text.upperBound, !isASCIISpace(line[nameEnd]) { nameEnd += 1 }
            guard nameEnd < text.upperBound else {
                throw DockerfileParser.error("\(key) requires a name and a value (\(key) name=value)")
            }
            var valueStart = nameEnd
            while valueStart < text.upperBound, isASCIISpace(line[valueStart]) { valueStart += 1 }
            return [line.string(text.lowerBound..<nameEnd), line.string(valueStart..<text.upperBound), ""]
        }
        var result: [String] = []
        result.reserveCapacity(words.count * 3)
        for word in words {
            guard let equals = line.firstIndex(of: ASCII.equals, in: word) else {
                throw DockerfileParser.error(
                    "\(key) arguments must be name=value pairs, but \(GoQuote.quote(line.string(word))) has no =")
            }
            result.append(line.string(word.lowerBound..<equals))
            result.append(line.string(equals + 1..<word.upperBound))
            result.append("=")
        }
        return result
    }
}
