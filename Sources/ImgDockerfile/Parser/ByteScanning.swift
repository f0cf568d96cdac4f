#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte-level character classes for the parser. The parser never decodes whole strings: it matches the
/// UTF-8 encodings of the characters Go's `unicode.IsSpace` accepts (BuildKit trims with it), so a
/// multi-byte space is recognised without building `Character`s.

typealias Bytes = UnsafeBufferPointer<UInt8>

enum ASCII {
    static let tab: UInt8 = 0x09
    static let newline: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22
    static let hash: UInt8 = 0x23
    static let dollar: UInt8 = 0x24
    static let apostrophe: UInt8 = 0x27
    static let minus: UInt8 = 0x2D
    static let slash: UInt8 = 0x2F
    static let colon: UInt8 = 0x3A
    static let lessThan: UInt8 = 0x3C
    static let equals: UInt8 = 0x3D
    static let openBracket: UInt8 = 0x5B
    static let backslash: UInt8 = 0x5C
    static let closeBracket: UInt8 = 0x5D
    static let backtick: UInt8 = 0x60
    static let openBrace: UInt8 = 0x7B
    static let closeBrace: UInt8 = 0x7D
    static let comma: UInt8 = 0x2C
}

/// `\t \n \v \f \r` and space. Inside a physical line there is no `\n`, so this is also BuildKit's
/// `[\t\v\f\r ]` separator class.
@inline(__always)
func isASCIISpace(_ byte: UInt8) -> Bool {
    byte == ASCII.space || (byte >= 0x09 && byte <= 0x0D)
}

@inline(__always)
func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

extension UnsafeBufferPointer<UInt8> {
    /// Byte width of the Unicode white-space character starting at `index` (before `end`), or 0.
    @inline(__always)
    func spaceWidth(at index: Int, end: Int) -> Int {
        let byte = self[index]
        if byte < 0x80 { return isASCIISpace(byte) ? 1 : 0 }
        return multiByteSpaceWidth(at: index, end: end)
    }

    /// U+0085, U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
    private func multiByteSpaceWidth(at index: Int, end: Int) -> Int {
        let lead = self[index]
        if lead == 0xC2 {
            guard index + 1 < end else { return 0 }
            let next = self[index + 1]
            return next == 0x85 || next == 0xA0 ? 2 : 0
        }
        guard lead >= 0xE1, lead <= 0xE3, index + 2 < end else { return 0 }
        return Self.isThreeByteSpace(lead, self[index + 1], self[index + 2]) ? 3 : 0
    }

    @inline(__always)
    private static func isThreeByteSpace(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8) -> Bool {
        switch b0 {
        case 0xE1: return b1 == 0x9A && b2 == 0x80
        case 0xE2:
            if b1 == 0x80 { return b2 <= 0x8A && b2 >= 0x80 || b2 == 0xA8 || b2 == 0xA9 || b2 == 0xAF }
            return b1 == 0x81 && b2 == 0x9F
        case 0xE3: return b1 == 0x80 && b2 == 0x80
        default: return false
        }
    }

    /// Byte width of the white-space character that ends just before `index` (not before `start`), or 0.
    @inline(__always)
    func spaceWidth(endingAt index: Int, start: Int) -> Int {
        let last = self[index - 1]
        if last < 0x80 { return isASCIISpace(last) ? 1 : 0 }
        if index - 2 >= start, self[index - 2] == 0xC2, last == 0x85 || last == 0xA0 { return 2 }
        if index - 3 >= start, Self.isThreeByteSpace(self[index - 3], self[index - 2], last) { return 3 }
        return 0
    }

    /// First index at or after `start` that is not white space.
    @inline(__always)
    func skippingSpaces(from start: Int, to end: Int) -> Int {
        var index = start
        while index < end {
            let width = spaceWidth(at: index, end: end)
            if width == 0 { break }
            index += width
        }
        return index
    }

    /// `range` without white space at either end (Go's `strings.TrimSpace`).
    func trimmingSpaces(_ range: Range<Int>) -> Range<Int> {
        let lower = skippingSpaces(from: range.lowerBound, to: range.upperBound)
        var upper = range.upperBound
        while upper > lower {
            let width = spaceWidth(endingAt: upper, start: lower)
            if width == 0 { break }
            upper -= width
        }
        return lower..<upper
    }

    /// The bytes in `range` as a string (invalid UTF-8 is repaired with U+FFFD).
    @inline(__always)
    func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: self[range]), as: UTF8.self)
    }

    /// Whether `byte` occurs in `range`.
    @inline(__always)
    func contains(_ byte: UInt8, in range: Range<Int>) -> Bool {
        firstIndex(of: byte, in: range) != nil
    }

    /// `memchr`: lines are found many bytes at a time.
    @inline(__always)
    func firstIndex(of byte: UInt8, in range: Range<Int>) -> Int? {
        guard !range.isEmpty, let base = baseAddress else { return nil }
        guard let found = memchr(base + range.lowerBound, Int32(byte), range.count) else { return nil }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }
}
