import Foundation
package import ImgOCI

/// One `-o/--output` of `img build`, as buildx spells it: `type=KIND,key=value,...`, `-o DIR` (local) or
/// `-o -` (a rootfs tar on stdout).
package struct BuildOutput: Sendable, Equatable {
    package enum Kind: String, Sendable, CaseIterable { case image, oci, docker, tar, local }

    package var kind: Kind
    /// `dest=`; nil means stdout for the archive kinds.
    package var destination: String?
    /// `name=` (image, oci, docker), comma-separated in buildx.
    package var names: [String] = []
    package var push = false
    /// `oci-mediatypes=`: nil picks the kind's default (docker types for image/docker, OCI for oci).
    package var ociMediaTypes: Bool?
    package var compression: LayerCompression?
    /// `compression-level=`: gzip 0–9, zstd 1–22 (checked once the compression is known).
    package var compressionLevel: Int?
    /// `force-compression=true`: layers that exist already (cached, the base image's) are compressed as asked
    /// too, not only the ones this build makes.
    package var forceCompression = false
    /// `rewrite-timestamp=true` (BuildKit's): the file times of the layers the build makes are clamped to
    /// SOURCE_DATE_EPOCH. img clamps them whenever there is an epoch, and a layer made without it (or with
    /// another) is never taken from the cache, so this asks for an epoch; the base image's layers stay as
    /// they are.
    package var rewriteTimestamp = false

    package init(kind: Kind, destination: String? = nil) {
        self.kind = kind
        self.destination = destination
    }

    package init(parsing text: String) throws {
        if text == "-" {
            self.init(kind: .tar)
            return
        }
        guard text.contains("=") else {
            self.init(kind: .local, destination: text)
            return
        }
        var kind: Kind?
        var fields: [(String, String)] = []
        for field in text.split(separator: ",", omittingEmptySubsequences: true) {
            guard let eq = field.firstIndex(of: "=") else {
                throw RequestError("invalid output \"\(text)\": \"\(field)\" is not key=value")
            }
            let key = field[..<eq].lowercased()
            let value = String(field[field.index(after: eq)...])
            if key == "type" {
                guard let parsed = Kind(rawValue: value) else {
                    throw RequestError("invalid output \"\(text)\": type must be one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                kind = parsed
            } else {
                fields.append((key, value))
            }
        }
        guard let kind else { throw RequestError("invalid output \"\(text)\": missing type=") }
        self.init(kind: kind)
        for (key, value) in fields {
            switch key {
            case "dest": destination = value
            case "name": names += value.split(separator: ",").map(String.init)
            case "push": push = try Self.bool(value, key, text)
            case "oci-mediatypes": ociMediaTypes = try Self.bool(value, key, text)
            case "compression":
                guard let parsed = LayerCompression(rawValue: value) else {
                    throw RequestError("invalid output \"\(text)\": compression must be gzip, zstd or uncompressed")
                }
                compression = parsed
            case "force-compression": forceCompression = try Self.bool(value, key, text)
            case "rewrite-timestamp": rewriteTimestamp = try Self.bool(value, key, text)
            case "compression-level":
                guard let level = Int(value), level >= 0 else {
                    throw RequestError("invalid output \"\(text)\": compression-level must be a number")
                }
                compressionLevel = level
            default:
                throw RequestError("invalid output \"\(text)\": unknown key \(key)")
            }
        }
        if kind == .local, destination == nil { throw RequestError("invalid output \"\(text)\": type=local needs dest=DIR") }
        if push, kind != .image { throw RequestError("invalid output \"\(text)\": push=true needs type=image") }
        if rewriteTimestamp, ![.image, .oci, .docker].contains(kind) {
            throw RequestError("invalid output \"\(text)\": rewrite-timestamp=true needs type=image, oci or docker (tar and local use SOURCE_DATE_EPOCH as they are)")
        }
        if let compressionLevel {
            guard compression != .uncompressed else {
                throw RequestError("invalid output \"\(text)\": compression-level needs compression=gzip or zstd")
            }
            let range = compression == .zstd ? 1...22 : 0...9
            guard range.contains(compressionLevel) else {
                throw RequestError("invalid output \"\(text)\": compression-level for \((compression ?? .gzip).rawValue) must be in \(range.lowerBound)...\(range.upperBound)")
            }
        }
    }

    private static func bool(_ value: String, _ key: String, _ text: String) throws -> Bool {
        switch value.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw RequestError("invalid output \"\(text)\": \(key) must be true or false")
        }
    }
}
