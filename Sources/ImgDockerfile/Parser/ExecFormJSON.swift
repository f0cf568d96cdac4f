/// The small JSON reader the parser needs: exec-form arrays (`["sh", "-c"]`) and the `{"syntax": ...}`
/// object form of the syntax directive. It follows Go's `encoding/json`: the whole text must be valid
/// JSON (so a syntax error anywhere means "not JSON"), strings are decoded, nesting deeper than
/// 10,000 is invalid. Nested values are skipped iteratively, so hostile input cannot exhaust the stack.
enum ExecFormJSON {
    enum ArrayResult: Equatable {
        case strings([String])
        /// Valid JSON, but an element is not a string: an error for the caller.
        case notAllStrings
        /// Not a JSON array at all: the caller falls back to the shell form.
        case invalid
    }

    static let maxDepth = 10_000

    static func parseArray(_ bytes: Bytes, _ range: Range<Int>) -> ArrayResult {
        var reader = JSONReader(bytes: bytes, position: range.lowerBound, end: range.upperBound)
        reader.skipWhitespace()
        guard reader.consume(ASCII.openBracket) else { return .invalid }
        var strings: [String] = []
        var allStrings = true
        reader.skipWhitespace()
        if !reader.consume(ASCII.closeBracket) {
            while true {
                reader.skipWhitespace()
                if reader.peek == ASCII.quote {
                    guard let string = reader.readString() else { return .invalid }
                    strings.append(string)
                } else {
                    allStrings = false
                    guard reader.skipValue(depth: 1) else { return .invalid }
                }
                reader.skipWhitespace()
                if reader.consume(ASCII.comma) { continue }
                if reader.consume(ASCII.closeBracket) { break }
                return .invalid
            }
        }
        reader.skipWhitespace()
        guard reader.atEnd else { return .invalid }
        return allStrings ? .strings(strings) : .notAllStrings
    }

    /// The string member `key` of a text that is, as a whole, one JSON object; nil otherwise.
    static func stringMember(_ key: String, of bytes: Bytes) -> String? {
        var reader = JSONReader(bytes: bytes, position: 0, end: bytes.count)
        reader.skipWhitespace()
        guard reader.consume(ASCII.openBrace) else { return nil }
        var found: String?
        reader.skipWhitespace()
        if !reader.consume(ASCII.closeBrace) {
            while true {
                reader.skipWhitespace()
                guard reader.peek == ASCII.quote, let name = reader.readString() else { return nil }
                reader.skipWhitespace()
                guard reader.consume(ASCII.colon) else { return nil }
                reader.skipWhitespace()
                if name == key, reader.peek == ASCII.quote {
                    guard let value = reader.readString() else { return nil }
                    found = value
                } else {
                    guard reader.skipValue(depth: 1) else { return nil }
                }
                reader.skipWhitespace()
                if reader.consume(ASCII.comma) { continue }
                if reader.consume(ASCII.closeBrace) { break }
                return nil
            }
        }
        reader.skipWhitespace()
        return reader.atEnd ? found : nil
    }
}

struct JSONReader {
    let bytes: Bytes
    var position: Int
    let end: Int

    var atEnd: Bool { position >= end }
    var peek: UInt8? { position < end ? bytes[position] : nil }

    mutating func consume(_ byte: UInt8) -> Bool {
        guard position < end, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    /// JSON white space is only space, tab, LF and CR.
    mutating func skipWhitespace() {
        while position < end {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    /// Decodes the string at the cursor (which is on its opening quote).
    mutating func readString() -> String? {
        position += 1
        let start = position
        // Fast path: no escapes, so the bytes are the value.
        while position < end {
            let byte = bytes[position]
            if byte == ASCII.quote {
                let value = bytes.string(start..<position)
                position += 1
                return value
            }
            if byte == ASCII.backslash { break }
            if byte < 0x20 { return nil }
            position += 1
        }
        guard position < end else { return nil }
        var decoded = Array(UnsafeBufferPointer(rebasing: bytes[start..<position]))
        while position < end {
            let byte = bytes[position]
            if byte == ASCII.quote {
                position += 1
                return String(decoding: decoded, as: UTF8.self)
            }
            if byte < 0x20 { return nil }
            guard byte == ASCII.backslash else {
                decoded.append(byte)
                position += 1
                continue
            }
            guard position + 1 < end else { return nil }
            let escaped = bytes[position + 1]
            position += 2
            switch escaped {
            case ASCII.quote, ASCII.backslash, ASCII.slash: decoded.append(escaped)
            case 0x62: decoded.append(0x08)  // b
            case 0x66: decoded.append(0x0C)  // f
            case 0x6E: decoded.append(0x0A)  // n
            case 0x72: decoded.append(0x0D)  // r
            case 0x74: decoded.append(0x09)  // t
            case 0x75:  // u
                guard var scalar = readHex4() else { return nil }
                if scalar >= 0xD800, scalar < 0xE000 {
                    // A high surrogate followed by an escaped low one is a pair; anything else is U+FFFD.
                    var combined: UInt32 = 0xFFFD
                    if scalar < 0xDC00, position + 1 < end, bytes[position] == ASCII.backslash,
                       bytes[position + 1] == 0x75
                    {
                        let saved = position
                        position += 2
                        if let low = readHex4(), low >= 0xDC00, low < 0xE000 {
                            combined = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            position = saved
                        }
                    }
                    scalar = combined
                }
                appendUTF8(Unicode.Scalar(scalar) ?? "\u{FFFD}", to: &decoded)
            default:
                return nil
            }
        }
        return nil
    }

    private mutating func readHex4() -> UInt32? {
        guard position + 4 <= end else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x41...0x46: digit = byte - 0x41 + 10
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    private func appendUTF8(_ scalar: Unicode.Scalar, to output: inout [UInt8]) {
        for unit in UTF8.encode(scalar)! { output.append(unit) }
    }

    /// Skips one value of any kind. `depth` is the nesting of its container; containers are tracked
    /// on an explicit stack.
    mutating func skipValue(depth: Int) -> Bool {
        var stack: [UInt8] = []
        while true {
            skipWhitespace()
            guard position < end else { return false }
            switch bytes[position] {
            case ASCII.quote:
                guard skipString() else { return false }
            case ASCII.openBracket, ASCII.openBrace:
                let open = bytes[position]
                position += 1
                guard depth + stack.count + 1 <= ExecFormJSON.maxDepth else { return false }
                skipWhitespace()
                let close = open == ASCII.openBracket ? ASCII.closeBracket : ASCII.closeBrace
                if consume(close) { break }
                stack.append(open)
                if open == ASCII.openBrace, !skipMemberName() { return false }
                continue
            case 0x74: guard skipLiteral("true") else { return false }
            case 0x66: guard skipLiteral("false") else { return false }
            case 0x6E: guard skipLiteral("null") else { return false }
            case ASCII.minus, 0x30...0x39:
                guard skipNumber() else { return false }
            default:
                return false
            }
            // After a value: close finished containers, or move on to the next element.
            while let open = stack.last {
                skipWhitespace()
                if consume(ASCII.comma) {
                    if open == ASCII.openBrace, !skipMemberName() { return false }
                    break
                }
                if consume(open == ASCII.openBracket ? ASCII.closeBracket : ASCII.closeBrace) {
                    stack.removeLast()
                    continue
                }
                return false
            }
            if stack.isEmpty { return true }
        }
    }

    /// `"name" :` inside an object.
    private mutating func skipMemberName() -> Bool {
        skipWhitespace()
        guard peek == ASCII.quote, skipString() else { return false }
        skipWhitespace()
        return consume(ASCII.colon)
    }

    private mutating func skipString() -> Bool {
        position += 1
        while position < end {
            let byte = bytes[position]
            if byte == ASCII.quote {
                position += 1
                return true
            }
            if byte < 0x20 { return false }
            if byte == ASCII.backslash {
                guard position + 1 < end else { return false }
                let escaped = bytes[position + 1]
                position += 2
                switch escaped {
                case ASCII.quote, ASCII.backslash, ASCII.slash, 0x62, 0x66, 0x6E, 0x72, 0x74: break
                case 0x75: guard readHex4() != nil else { return false }
                default: return false
                }
                continue
            }
            position += 1
        }
        return false
    }

    private mutating func skipLiteral(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard position + count <= end else { return false }
        let pointer = literal.utf8Start
        for offset in 0..<count where bytes[position + offset] != pointer[offset] { return false }
        position += count
        return true
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    private mutating func skipNumber() -> Bool {
        _ = consume(ASCII.minus)
        guard let first = peek, isDigit(first) else { return false }
        position += 1
        if first != 0x30 { skipDigits() }
        if consume(0x2E) {
            guard let digit = peek, isDigit(digit) else { return false }
            skipDigits()
        }
        if peek == 0x65 || peek == 0x45 {
            position += 1
            if peek == 0x2B || peek == ASCII.minus { position += 1 }
            guard let digit = peek, isDigit(digit) else { return false }
            skipDigits()
        }
        return true
    }

    private mutating func skipDigits() {
        while let byte = peek, isDigit(byte) { position += 1 }
    }
}
