/// Go's `strconv.Quote`, which BuildKit's AST dump uses: printable characters stay as UTF-8, the usual
/// control characters get C escapes, other non-printables `\x`, `\u` or `\U`, invalid bytes `\x`.
package enum GoQuote {
    package static func quote(_ string: String) -> String {
        quote(utf8: string.utf8)
    }

    package static func quote(utf8 bytes: some Collection<UInt8>) -> String {
        let input = Array(bytes)
        var output: [UInt8] = [ASCII.quote]
        output.reserveCapacity(input.count + 2)
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte < 0x80 {
                appendEscaped(Unicode.Scalar(byte), to: &output)
                index += 1
                continue
            }
            guard let (scalar, width) = decodeUTF8(input, at: index) else {
                appendHex(byte, to: &output)
                index += 1
                continue
            }
            if isPrintable(scalar) {
                output.append(contentsOf: input[index..<index + width])
            } else {
                appendEscaped(scalar, to: &output)
            }
            index += width
        }
        output.append(ASCII.quote)
        return String(decoding: output, as: UTF8.self)
    }

    /// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
    package static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value < 0x80 { return scalar.value >= 0x20 && scalar.value < 0x7F }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .enclosingMark,
             .decimalNumber, .letterNumber, .otherNumber,
             .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation,
             .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return true
        default:
            return false
        }
    }

    private static func appendEscaped(_ scalar: Unicode.Scalar, to output: inout [UInt8]) {
        let value = scalar.value
        switch value {
        case 0x22: output += [ASCII.backslash, ASCII.quote]
        case 0x5C: output += [ASCII.backslash, ASCII.backslash]
        case 0x07: output += Array(#"\a"#.utf8)
        case 0x08: output += Array(#"\b"#.utf8)
        case 0x0C: output += Array(#"\f"#.utf8)
        case 0x0A: output += Array(#"\n"#.utf8)
        case 0x0D: output += Array(#"\r"#.utf8)
        case 0x09: output += Array(#"\t"#.utf8)
        case 0x0B: output += Array(#"\v"#.utf8)
        case 0x20..<0x7F: output.append(UInt8(value))
        case ..<0x80: appendHex(UInt8(value), to: &output)
        case ..<0x10000:
            output += [ASCII.backslash, 0x75]
            appendHexDigits(value, count: 4, to: &output)
        default:
            output += [ASCII.backslash, 0x55]
            appendHexDigits(value, count: 8, to: &output)
        }
    }

    private static func appendHex(_ byte: UInt8, to output: inout [UInt8]) {
        output += [ASCII.backslash, 0x78]
        appendHexDigits(UInt32(byte), count: 2, to: &output)
    }

    private static func appendHexDigits(_ value: UInt32, count: Int, to output: inout [UInt8]) {
        let digits = Array("0123456789abcdef".utf8)
        for shift in stride(from: (count - 1) * 4, through: 0, by: -4) {
            output.append(digits[Int(value >> UInt32(shift) & 0xF)])
        }
    }

    /// Go's `utf8.DecodeRune`: nil for an invalid sequence (the caller then takes one byte).
    static func decodeUTF8(_ bytes: [UInt8], at index: Int) -> (Unicode.Scalar, Int)? {
        let lead = bytes[index]
        let width: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        var value: UInt32
        switch lead {
        case 0xC2...0xDF: width = 2; value = UInt32(lead & 0x1F)
        case 0xE0: width = 3; value = UInt32(lead & 0x0F); low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: width = 3; value = UInt32(lead & 0x0F)
        case 0xED: width = 3; value = UInt32(lead & 0x0F); high = 0x9F
        case 0xF0: width = 4; value = UInt32(lead & 0x07); low = 0x90
        case 0xF1...0xF3: width = 4; value = UInt32(lead & 0x07)
        case 0xF4: width = 4; value = UInt32(lead & 0x07); high = 0x8F
        default: return nil
        }
        guard index + width <= bytes.count else { return nil }
        for offset in 1..<width {
            let byte = bytes[index + offset]
            let (min, max) = offset == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
            guard byte >= min, byte <= max else { return nil }
            value = value << 6 | UInt32(byte & 0x3F)
        }
        guard let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, width)
    }
}
