/// `--provenance`, `--sbom` and `--attest`, as buildx spells them: which statements are attached to the
/// image (docs/provenance.md).
package struct AttestationOptions: Sendable, Hashable {
    package enum ProvenanceMode: String, Sendable, Hashable { case min, max }

    /// nil: not said, which is `mode=min` when the build pushes (as buildx does) and none otherwise.
    package var provenance: ProvenanceMode??
    /// nil: not said (no SBOM).
    package var sbom: Bool?

    package init() {}

    /// The provenance a build attaches.
    package func provenanceMode(pushing: Bool) -> ProvenanceMode? {
        switch provenance {
        case .none: return pushing ? .min : nil
        case .some(let mode): return mode
        }
    }

    package var wantsSBOM: Bool { sbom == true }

    /// `--provenance VALUE`: `true`/`false`, `mode=min|max`, `disabled=true`, `version=v1`.
    package mutating func parse(provenance text: String) throws {
        if let flag = Self.bool(text) {
            provenance = .some(flag ? .min : nil)
            return
        }
        try parseProvenance(Self.pairs(text, flag: "--provenance"), flag: "--provenance")
    }

    /// `--sbom VALUE`: `true`/`false` or `disabled=true`.
    package mutating func parse(sbom text: String) throws {
        if let flag = Self.bool(text) {
            sbom = flag
            return
        }
        try parseSBOM(Self.pairs(text, flag: "--sbom"), flag: "--sbom")
    }

    /// `--attest type=provenance|sbom[,KEY=VALUE...]`.
    package mutating func parse(attest text: String) throws {
        var pairs = try Self.pairs(text, flag: "--attest")
        guard let index = pairs.firstIndex(where: { $0.key == "type" }) else {
            throw RequestError("--attest \(text): expected type=provenance or type=sbom")
        }
        let type = pairs.remove(at: index).value
        switch type {
        case "provenance":
            if pairs.isEmpty { provenance = .some(.min) } else { try parseProvenance(pairs, flag: "--attest \(text)") }
        case "sbom":
            if pairs.isEmpty { sbom = true } else { try parseSBOM(pairs, flag: "--attest \(text)") }
        default:
            throw RequestError("--attest \(text): unknown type \(type) (expected provenance or sbom)")
        }
    }

    private mutating func parseProvenance(_ pairs: [(key: String, value: String)], flag: String) throws {
        var mode = ProvenanceMode.min
        var disabled = false
        for (key, value) in pairs {
            switch key {
            case "mode":
                guard let parsed = ProvenanceMode(rawValue: value) else {
                    throw RequestError("\(flag): mode=\(value): expected min or max")
                }
                mode = parsed
            case "disabled":
                guard let flag = Self.bool(value) else { throw RequestError("\(flag): disabled=\(value): expected true or false") }
                disabled = flag
            case "version":
                guard value == "v1" else { throw RequestError("\(flag): version=\(value): img writes SLSA provenance v1 only") }
            default:
                throw RequestError("\(flag): unknown key \(key) (expected mode, disabled or version)")
            }
        }
        provenance = .some(disabled ? nil : mode)
    }

    private mutating func parseSBOM(_ pairs: [(key: String, value: String)], flag: String) throws {
        var disabled = false
        for (key, value) in pairs {
            switch key {
            case "disabled":
                guard let flag = Self.bool(value) else { throw RequestError("\(flag): disabled=\(value): expected true or false") }
                disabled = flag
            case "generator":
                throw RequestError("\(flag): generator=\(value): img scans the image with its own reader; generator images are not run")
            default:
                throw RequestError("\(flag): unknown key \(key) (expected disabled)")
            }
        }
        sbom = !disabled
    }

    private static func bool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: return nil
        }
    }

    private static func pairs(_ text: String, flag: String) throws -> [(key: String, value: String)] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map { part in
            guard let eq = part.firstIndex(of: "="), eq != part.startIndex else {
                throw RequestError("\(flag) \(text): expected KEY=VALUE, got \"\(part)\"")
            }
            return (String(part[..<eq]), String(part[part.index(after: eq)...]))
        }
    }
}

/// The img that builds: provenance names it as the builder.
package struct BuilderIdentity: Sendable, Hashable {
    package var version: String
    package var commit: String

    package init(version: String, commit: String) {
        self.version = version
        self.commit = commit
    }

    package static let unknown = BuilderIdentity(version: "unknown", commit: "unknown")
}
