import Crypto
package import Foundation

/// A content digest such as `sha256:…`. Only algorithms a registry accepts are allowed, and the hex part is
/// validated, so a `Digest` is always safe to use as a file name.
package struct Digest: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    package enum Algorithm: String, Sendable, Hashable, CaseIterable {
        case sha256, sha512
        var hexLength: Int { self == .sha256 ? 64 : 128 }
    }

    package let algorithm: Algorithm
    /// Lower-case hex.
    package let hex: String

    package init(algorithm: Algorithm, hex: String) throws(OCIError) {
        guard hex.utf8.count == algorithm.hexLength,
              hex.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { throw OCIError("digest", "invalid digest \"\(algorithm.rawValue):\(hex)\": expected \(algorithm.hexLength) lower-case hex digits") }
        self.algorithm = algorithm
        self.hex = hex
    }

    package init(parsing text: String) throws(OCIError) {
        // Bytes, not Characters: digests are parsed by the tens of thousands (checksum cache rows, JSON).
        guard let colon = text.utf8.firstIndex(of: UInt8(ascii: ":")) else {
            throw OCIError("digest", "invalid digest \"\(text)\": missing algorithm")
        }
        guard let algorithm = Algorithm(rawValue: String(text[..<colon])) else {
            throw OCIError("digest", "invalid digest \"\(text)\": unsupported algorithm")
        }
        try self.init(algorithm: algorithm, hex: String(text[text.index(after: colon)...]))
    }

    /// The sha256 digest of `bytes`.
    package static func sha256<D: DataProtocol>(of bytes: D) -> Digest {
        try! Digest(algorithm: .sha256, hex: SHA256.hash(data: bytes).hexString)
    }

    package var description: String { "\(algorithm.rawValue):\(hex)" }
    /// The first 12 hex digits, as docker shows image IDs.
    package var short: String { String(hex.prefix(12)) }

    package static func < (a: Digest, b: Digest) -> Bool { a.description < b.description }

    package init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// Streams bytes into a sha256 digest, for blobs too large to hold.
package struct DigestHasher {
    private var hasher = SHA256()
    package init() {}
    package mutating func update<D: DataProtocol>(_ bytes: D) { hasher.update(data: bytes) }
    package mutating func update(_ buffer: UnsafeRawBufferPointer) { hasher.update(bufferPointer: buffer) }
    package func finalize() -> Digest { try! Digest(algorithm: .sha256, hex: hasher.finalize().hexString) }
}

extension Sequence<UInt8> {
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(128)
        for b in self {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
