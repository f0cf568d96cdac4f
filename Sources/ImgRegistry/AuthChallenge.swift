/// One challenge from a `WWW-Authenticate` header: `Bearer realm="…",service="…",scope="…"` or
/// `Basic realm="…"`.
package struct AuthChallenge: Sendable, Hashable {
    package enum Scheme: String, Sendable, Hashable {
        case basic, bearer
    }

    package var scheme: Scheme
    /// Lower-cased parameter names to their (unquoted) values.
    package var parameters: [String: String]

    package init(scheme: Scheme, parameters: [String: String]) {
        self.scheme = scheme
        self.parameters = parameters
    }

    package var realm: String? { parameters["realm"] }
    package var service: String? { parameters["service"] }
    package var scope: String? { parameters["scope"] }

    /// All challenges a header value holds that img understands; unknown schemes are skipped.
    package static func parse(_ header: String) -> [AuthChallenge] {
        var scanner = Scanner(Array(header.utf8))
        var result: [AuthChallenge] = []
        var current: AuthChallenge?
        while true {
            scanner.skip { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\t") }
            guard !scanner.atEnd else { break }
            let token = scanner.token()
            guard !token.isEmpty else { scanner.advance(); continue }
            scanner.skip { $0 == UInt8(ascii: " ") }
            if scanner.peek == UInt8(ascii: "=") {
                // A parameter of the current challenge.
                scanner.advance()
                scanner.skip { $0 == UInt8(ascii: " ") }
                let value = scanner.peek == UInt8(ascii: "\"") ? scanner.quoted() : scanner.token()
                current?.parameters[token.lowercased()] = value
            } else {
                // A new scheme starts.
                if let c = current { result.append(c) }
                current = Scheme(rawValue: token.lowercased()).map { AuthChallenge(scheme: $0, parameters: [:]) }
            }
        }
        if let c = current { result.append(c) }
        return result
    }
}

/// A byte scanner for the header grammar (RFC 7235 tokens and quoted strings).
private struct Scanner {
    let bytes: [UInt8]
    var index = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { atEnd ? nil : bytes[index] }
    mutating func advance() { index += 1 }
    mutating func skip(while predicate: (UInt8) -> Bool) {
        while let b = peek, predicate(b) { index += 1 }
    }
    mutating func token() -> String {
        let start = index
        skip { b in
            b != UInt8(ascii: " ") && b != UInt8(ascii: ",") && b != UInt8(ascii: "=") && b != UInt8(ascii: "\t")
                && b != UInt8(ascii: "\"")
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }
    mutating func quoted() -> String {
        advance()
        var out: [UInt8] = []
        while let b = peek {
            advance()
            if b == UInt8(ascii: "\\"), let next = peek { out.append(next); advance(); continue }
            if b == UInt8(ascii: "\"") { break }
            out.append(b)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
