/// Collects words while a line is expanded. Unquoted characters split on whitespace; quoted or escaped
/// ones never do. A word that was opened only by an empty quoted part (`""`) does not survive, as upstream.
struct ShellWordCollector {
    private(set) var words: [String] = []
    private var word = String.UnicodeScalarView()
    private var inWord = false

    mutating func addChar(_ c: Unicode.Scalar) {
        if c.properties.isWhitespace {
            if inWord, !word.isEmpty {
                words.append(String(word))
                word = String.UnicodeScalarView()
                inWord = false
            }
        } else {
            addRawChar(c)
        }
    }

    mutating func addRawChar(_ c: Unicode.Scalar) {
        word.append(c)
        inWord = true
    }

    mutating func addString(_ s: some Sequence<Unicode.Scalar>) {
        for c in s { addChar(c) }
    }

    mutating func addRawString(_ s: some Sequence<Unicode.Scalar>) {
        word.append(contentsOf: s)
        inWord = true
    }

    mutating func finish() -> [String] {
        if !word.isEmpty {
            words.append(String(word))
            word = String.UnicodeScalarView()
            inWord = false
        }
        return words
    }
}

/// One expansion in progress: the input as scalars, a cursor, and the matched/unmatched bookkeeping.
struct ShellWordScanner {
    typealias Scalars = [Unicode.Scalar]

    /// How deeply `${...}` may nest. Each level is a few stack frames of recursion, so without a bound a
    /// 42 KB line overflows the stack; real Dockerfiles nest two or three levels, and 64 stays far below
    /// what even a 512 KiB thread stack of a debug build holds.
    static let maximumDepth = 64
    /// The longest word an expansion may produce, in Unicode scalars (1 MiB of ASCII). `ARG B=$A$A`
    /// doubles per line, so a handful of lines would otherwise take all memory.
    static let maximumLength = 1 << 20

    let input: Scalars
    var pos = 0
    let escape: Unicode.Scalar
    let keepQuotes: Bool
    let skipUnset: Bool
    let env: ShellEnvironment
    /// Escapes are kept in the text while reading a pattern or replacement, so the pattern can tell `\*`
    /// from `*`.
    var rawEscapes = false
    var matched: Set<String> = []
    var unmatched: Set<String> = []
    /// `${` levels open at the cursor.
    private var depth = 0

    init(_ text: String, lexer: ShellLexer, env: ShellEnvironment) {
        input = Array(text.unicodeScalars)
        escape = lexer.escape.unicodeScalars.first ?? "\\"
        keepQuotes = lexer.keepQuotes
        skipUnset = lexer.skipUnset
        self.env = env
    }

    private var peek: Unicode.Scalar? { pos < input.count ? input[pos] : nil }

    private mutating func next() -> Unicode.Scalar? {
        guard pos < input.count else { return nil }
        defer { pos += 1 }
        return input[pos]
    }

    private static func error(_ message: String) -> DockerfileError {
        DockerfileError("expansion", message)
    }

    static let tooLong = error("expanded word is longer than 1 MiB (\(maximumLength) characters)")

    /// Fails once `text` passes the length cap; called after every append that can grow a result.
    private static func checkLength(_ text: Scalars) throws(DockerfileError) {
        if text.count > maximumLength { throw tooLong }
    }

    private mutating func lookup(_ name: String) -> String? {
        if let value = env[name] {
            matched.insert(name)
            return value
        }
        unmatched.insert(name)
        return nil
    }

    /// Reads until `stop` (consumed) or the end of input. With a stop character, reaching the end is an
    /// error. Words are collected only when `words` is given.
    mutating func process(
        stop: Unicode.Scalar?, words: inout ShellWordCollector?
    ) throws(DockerfileError) -> Scalars {
        var result: Scalars = []
        while let c = peek {
            if c == stop {
                pos += 1
                return result
            }
            switch c {
            case "'":
                let part = try singleQuoted()
                result.append(contentsOf: part)
                words?.addRawString(part)
            case "\"":
                let part = try doubleQuoted()
                result.append(contentsOf: part)
                words?.addRawString(part)
            case "$":
                let part = try dollar()
                result.append(contentsOf: part)
                // Unquoted expansion results are subject to splitting.
                words?.addString(part)
            default:
                pos += 1
                if c == escape {
                    if rawEscapes {
                        result.append(c)
                        words?.addRawChar(c)
                    }
                    // A lone escape at the very end is dropped (the loop then ends).
                    guard let escaped = next() else { continue }
                    result.append(escaped)
                    words?.addRawChar(escaped)
                } else {
                    result.append(c)
                    words?.addChar(c)
                }
            }
            try Self.checkLength(result)
        }
        if let stop {
            throw Self.error("unexpected end of statement while looking for matching \(Character(stop))")
        }
        return result
    }

    private mutating func process(stop: Unicode.Scalar, rawEscapes raw: Bool) throws(DockerfileError) -> Scalars {
        let saved = rawEscapes
        rawEscapes = raw
        defer { rawEscapes = saved }
        var none: ShellWordCollector? = nil
        return try process(stop: stop, words: &none)
    }

    /// Everything up to the closing `'` is literal; there is no way to escape a `'` inside.
    private mutating func singleQuoted() throws(DockerfileError) -> Scalars {
        var result: Scalars = []
        let open = next()!
        if keepQuotes { result.append(open) }
        while true {
            guard let c = next() else {
                throw Self.error("unexpected end of statement while looking for matching single-quote")
            }
            if c == "'" {
                if keepQuotes { result.append(c) }
                return result
            }
            result.append(c)
        }
    }

    /// Inside `"`, variables expand and the escape character escapes only `"`, `$` and itself.
    private mutating func doubleQuoted() throws(DockerfileError) -> Scalars {
        var result: Scalars = []
        let open = next()!
        if keepQuotes { result.append(open) }
        while true {
            guard let c = peek else {
                throw Self.error("unexpected end of statement while looking for matching double-quote")
            }
            switch c {
            case "\"":
                pos += 1
                if keepQuotes { result.append(c) }
                return result
            case "$":
                result.append(contentsOf: try dollar())
                try Self.checkLength(result)
            default:
                pos += 1
                if c == escape {
                    if rawEscapes { result.append(c) }
                    guard let following = peek else { continue }
                    if following == "\"" || following == "$" || following == escape {
                        pos += 1
                        result.append(following)
                        continue
                    }
                }
                result.append(c)
            }
        }
    }

    private static func isDigit(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII { return c >= "0" && c <= "9" }
        return c.properties.generalCategory == .decimalNumber
    }

    private static func isNameCharacter(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII {
            return (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_"
        }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber:
            return true
        default:
            return false
        }
    }

    /// A variable name: letters, digits and `_`; or a run of digits (positional); or one special parameter.
    private mutating func name() -> String {
        var name = String.UnicodeScalarView()
        if let c = peek {
            if Self.isDigit(c) {
                while let d = peek, Self.isDigit(d) {
                    name.append(d)
                    pos += 1
                }
                return String(name)
            }
            switch c {
            case "@", "*", "#", "?", "-", "$", "!", "0":
                pos += 1
                return String(c)
            default:
                break
            }
        }
        while let c = peek, Self.isNameCharacter(c) {
            name.append(c)
            pos += 1
        }
        return String(name)
    }

    /// Expands the `$...` at the cursor.
    private mutating func dollar() throws(DockerfileError) -> Scalars {
        pos += 1  // the `$`
        guard peek == "{" else {
            let name = name()
            if name.isEmpty { return ["$"] }
            if let value = lookup(name) { return Array(value.unicodeScalars) }
            return skipUnset ? Array("$\(name)".unicodeScalars) : []
        }
        pos += 1  // the `{`
        guard depth < Self.maximumDepth else {
            throw Self.error("variable substitutions nested more than \(Self.maximumDepth) levels deep")
        }
        depth += 1
        defer { depth -= 1 }
        switch peek {
        case nil:
            throw Self.error("syntax error: missing '}'")
        case "{", "}", ":":
            throw Self.error("syntax error: bad substitution")
        default:
            break
        }
        let name = name()
        guard let op = next() else {
            throw Self.error("syntax error: missing '}'")
        }
        switch op {
        case "}":
            if let value = lookup(name) { return Array(value.unicodeScalars) }
            return skipUnset ? Array("${\(name)}".unicodeScalars) : []
        case "/":
            return try substitution(name: name)
        default:
            return try modifier(name: name, first: op)
        }
    }

    /// `${V:-w}` and the other one- or two-character operators.
    private mutating func modifier(name: String, first: Unicode.Scalar) throws(DockerfileError) -> Scalars {
        var op = first
        var written = String(first)
        let colon = first == ":"
        if colon {
            guard let second = next() else { throw Self.error("syntax error: missing '}'") }
            op = second
            written.unicodeScalars.append(second)
        }
        let isTrim = op == "#" || op == "%"
        if colon && isTrim {
            throw Self.error("unsupported modifier (\(written)) in substitution")
        }
        var word: Scalars
        do {
            word = try process(stop: "}", rawEscapes: isTrim)
        } catch {
            if peek == nil { throw Self.error("syntax error: missing '}'") }
            throw error
        }
        let value = lookup(name)
        if skipUnset && value == nil {
            return Array("${\(name)\(written)".unicodeScalars) + word + ["}"]
        }
        let unsetOrNull = value == nil || (colon && value!.isEmpty)
        switch op {
        case "-":
            return unsetOrNull ? word : Array(value!.unicodeScalars)
        case "+":
            return unsetOrNull ? [] : word
        case "?":
            if value == nil {
                let message = word.isEmpty ? "is not allowed to be unset" : String(String.UnicodeScalarView(word))
                throw Self.error("\(name): \(message)")
            }
            if unsetOrNull {
                let message = word.isEmpty ? "is not allowed to be empty" : String(String.UnicodeScalarView(word))
                throw Self.error("\(name): \(message)")
            }
            return Array(value!.unicodeScalars)
        case "#", "%":
            // `##` / `%%` remove the longest match, a single one the shortest.
            var longest = false
            if word.first == op {
                longest = true
                word.removeFirst()
            }
            let pattern = ShellPattern(word, escape: escape)
            let scalars = Array((value ?? "").unicodeScalars)
            return op == "#"
                ? pattern.removingPrefix(of: scalars, longest: longest)
                : pattern.removingSuffix(of: scalars, longest: longest)
        default:
            throw Self.error("unsupported modifier (\(written)) in substitution")
        }
    }

    /// `${V/p/r}` and `${V//p/r}`.
    private mutating func substitution(name: String) throws(DockerfileError) -> Scalars {
        let all = peek == "/"
        if all { pos += 1 }
        let pattern: Scalars
        do {
            pattern = try process(stop: "/", rawEscapes: true)
        } catch {
            if peek == nil { throw Self.error("syntax error: missing '/' in ${}") }
            throw error
        }
        let replacement: Scalars
        do {
            replacement = try process(stop: "}", rawEscapes: true)
        } catch {
            if peek == nil { throw Self.error("syntax error: missing '}'") }
            throw error
        }
        let value = lookup(name)
        if skipUnset && value == nil {
            return Array("${\(name)\(all ? "//" : "/")".unicodeScalars) + pattern + ["/"] + replacement + ["}"]
        }
        guard let replaced = ShellPattern(pattern, escape: escape).replacing(
            in: Array((value ?? "").unicodeScalars), with: replacement, all: all, limit: Self.maximumLength)
        else { throw Self.tooLong }
        return replaced
    }
}
