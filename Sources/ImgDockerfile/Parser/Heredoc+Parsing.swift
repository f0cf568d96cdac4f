/// Heredoc recognition as BuildKit does it: the instruction line is split into shell words (quotes and
/// escapes kept), and each word of the form `[n]<<[-]WORD` opens a heredoc. Escapes here are always `\`,
/// whatever the `escape` directive says (upstream lexes heredocs with a fixed backslash).
extension Heredoc {
    /// Recognises one already-split word: the heredoc it opens (with empty content), nil when the word
    /// is not a heredoc, or an error for an unbalanced quote (`<<'EOF`).
    package static func parse(word: String) throws(DockerfileError) -> Heredoc? {
        var bytes = Array(word.utf8)
        return try bytes.withUnsafeMutableBufferPointer { buffer throws(DockerfileError) in
            let pointer = Bytes(buffer)
            return try HeredocScanner.parseWord(pointer, 0..<pointer.count)?.heredoc
        }
    }

    /// The heredocs a whole (joined) instruction line opens, in order.
    package static func heredocs(inLine line: String) throws(DockerfileError) -> [Heredoc] {
        var bytes = Array(line.utf8)
        return try bytes.withUnsafeMutableBufferPointer { buffer throws(DockerfileError) in
            let pointer = Bytes(buffer)
            return try HeredocScanner.heredocs(inLine: pointer, 0..<pointer.count).map(\.heredoc)
        }
    }

    /// `content` with the leading tabs of every line removed (what `<<-` does to a body).
    package static func removingLeadingTabs(_ content: String) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(content.utf8.count)
        var atLineStart = true
        for byte in content.utf8 {
            if atLineStart, byte == ASCII.tab { continue }
            atLineStart = byte == ASCII.newline
            output.append(byte)
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The body as the instruction uses it: leading tabs removed for `<<-`, as stored otherwise.
    package var chompedContent: String {
        chomp ? Self.removingLeadingTabs(content) : content
    }
}

/// A heredoc found on an instruction line whose body has not been read yet.
struct PendingHeredoc {
    var heredoc: Heredoc
    /// The terminator line to look for, as bytes (the name before any UTF-8 repair).
    var terminator: [UInt8]
}

extension UnsafeBufferPointer<UInt8> {
    /// Whether `<<` occurs in `range`: the cheap test before looking for heredocs.
    func containsHeredocMarker(in range: Range<Int>) -> Bool {
        var index = range.lowerBound + 1
        // Look at every second byte: a `<<` pair always covers one of them.
        while index < range.upperBound {
            if self[index] == ASCII.lessThan {
                if self[index - 1] == ASCII.lessThan { return true }
                if index + 1 < range.upperBound, self[index + 1] == ASCII.lessThan { return true }
            }
            index += 2
        }
        return false
    }
}

enum HeredocScanner {
    /// Splits `range` into raw shell words and parses each as a heredoc opener. An opener's word takes
    /// the white space after `<<`/`<<-` with it, so `<< EOF` and `<<- EOF` name `EOF`. A line with an
    /// unbalanced quote has no heredocs (upstream ignores the lexing error there).
    static func heredocs(inLine line: Bytes, _ range: Range<Int>) throws(DockerfileError) -> [PendingHeredoc] {
        var result: [PendingHeredoc] = []
        let end = range.upperBound
        var pos = range.lowerBound
        while pos < end {
            let width = line.spaceWidth(at: pos, end: end)
            if width > 0 {
                pos += width
                continue
            }
            let start = pos
            var opener = pos
            while opener < end, isDigit(line[opener]) { opener += 1 }
            if opener + 1 < end, line[opener] == ASCII.lessThan, line[opener + 1] == ASCII.lessThan {
                opener += 2
                if opener < end, line[opener] == ASCII.minus { opener += 1 }
                pos = line.skippingSpaces(from: opener, to: end)
            }
            while pos < end, line.spaceWidth(at: pos, end: end) == 0 {
                switch line[pos] {
                case ASCII.backslash:
                    pos = Swift.min(pos + 2, end)
                case ASCII.apostrophe:
                    guard let close = line.firstIndex(of: ASCII.apostrophe, in: pos + 1..<end) else { return [] }
                    pos = close + 1
                case ASCII.quote:
                    pos += 1
                    while pos < end, line[pos] != ASCII.quote {
                        pos += line[pos] == ASCII.backslash ? 2 : 1
                    }
                    guard pos < end else { return [] }
                    pos += 1
                default:
                    pos += 1
                }
            }
            if let heredoc = try parseWord(line, start..<pos) { result.append(heredoc) }
        }
        return result
    }

    /// `^(\d*)<<(-?)([^<]*)$` where the rest must lex to exactly one shell word. Quoting any part of
    /// that word turns expansion off.
    static func parseWord(_ word: Bytes, _ range: Range<Int>) throws(DockerfileError) -> PendingHeredoc? {
        var pos = range.lowerBound
        let end = range.upperBound
        while pos < end, isDigit(word[pos]) { pos += 1 }
        let digits = range.lowerBound..<pos
        guard pos + 1 < end, word[pos] == ASCII.lessThan, word[pos + 1] == ASCII.lessThan else { return nil }
        pos += 2
        let chomp = pos < end && word[pos] == ASCII.minus
        if chomp { pos += 1 }
        let rest = pos..<end
        guard !rest.isEmpty, !word.contains(ASCII.lessThan, in: rest) else { return nil }
        guard let (name, quoted) = try singleShellWord(word, rest) else { return nil }

        var fileDescriptor = 0
        for index in digits {
            let (product, overflow) = fileDescriptor.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = product.addingReportingOverflow(Int(word[index] - 0x30))
            if overflow || overflow2 {
                fileDescriptor = 0
                break
            }
            fileDescriptor = sum
        }
        let heredoc = Heredoc(
            name: String(decoding: name, as: UTF8.self), content: "", expand: !quoted, chomp: chomp,
            fileDescriptor: fileDescriptor)
        return PendingHeredoc(heredoc: heredoc, terminator: name)
    }

    /// Lexes `range` as shell words with quote removal and `\` escapes, `$` taken literally. Returns
    /// the word when there is exactly one, and whether any quote was removed from it.
    private static func singleShellWord(_ text: Bytes, _ range: Range<Int>) throws(DockerfileError) -> ([UInt8], Bool)? {
        var finished = false
        var word: [UInt8] = []
        var quoted = false
        var inWord = false
        var pos = range.lowerBound
        let end = range.upperBound
        func unbalanced(_ quote: String) -> DockerfileError {
            DockerfileParser.error("unbalanced \(quote) quote in heredoc delimiter \(GoQuote.quote(text.string(range)))")
        }
        while pos < end {
            let width = text.spaceWidth(at: pos, end: end)
            if width > 0 {
                if inWord, !word.isEmpty { finished = true }
                pos += width
                continue
            }
            // A second word starts: not a single-word delimiter.
            if finished { return nil }
            let byte = text[pos]
            switch byte {
            case ASCII.apostrophe:
                guard let close = text.firstIndex(of: ASCII.apostrophe, in: pos + 1..<end) else { throw unbalanced("single") }
                word.append(contentsOf: UnsafeBufferPointer(rebasing: text[pos + 1..<close]))
                pos = close + 1
                quoted = true
            case ASCII.quote:
                pos += 1
                while true {
                    guard pos < end else { throw unbalanced("double") }
                    let inner = text[pos]
                    if inner == ASCII.quote { break }
                    if inner == ASCII.backslash, pos + 1 < end {
                        let next = text[pos + 1]
                        if next == ASCII.quote || next == ASCII.dollar || next == ASCII.backslash {
                            word.append(next)
                            pos += 2
                            continue
                        }
                    }
                    word.append(inner)
                    pos += 1
                }
                pos += 1
                quoted = true
            case ASCII.backslash:
                pos += 1
                if pos < end {
                    word.append(text[pos])
                    pos += 1
                }
            default:
                word.append(byte)
                pos += 1
            }
            inWord = true
        }
        return word.isEmpty ? nil : (word, quoted)
    }
}
