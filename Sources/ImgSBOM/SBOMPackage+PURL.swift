extension SBOMPackage {
    /// The package URL (purl spec): `pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12`,
    /// `pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64`, `pkg:rpm/fedora/bash@5.2.26-3.fc40?arch=x86_64&epoch=1`,
    /// `pkg:pypi/requests@2.31.0`. Qualifiers are sorted by key, as the spec's canonical form has them.
    package var purl: String {
        var qualifiers: [(String, String)] = []
        if let architecture, !architecture.isEmpty { qualifiers.append(("arch", architecture)) }
        if let distribution, ecosystem != .pypi {
            qualifiers.append(("distro", distribution.versionID.map { "\(distribution.id)-\($0)" } ?? distribution.id))
        }
        if let epoch, epoch != "0" { qualifiers.append(("epoch", epoch)) }
        var text = "pkg:" + ecosystem.rawValue + "/"
        switch ecosystem {
        case .deb: text += Self.encode(distribution?.id ?? "debian") + "/" + Self.encode(name)
        case .apk: text += Self.encode(distribution?.id ?? "alpine") + "/" + Self.encode(name)
        case .rpm: text += Self.encode(distribution?.id ?? "redhat") + "/" + Self.encode(name)
        case .pypi: text += Self.encode(Self.normalizedPythonName(name))
        }
        text += "@" + Self.encode(version)
        if !qualifiers.isEmpty {
            text += "?" + qualifiers.sorted { $0.0 < $1.0 }.map { "\($0.0)=\(Self.encode($0.1))" }.joined(separator: "&")
        }
        return text
    }

    /// PEP 503: lower case, each run of `-`, `_` and `.` one `-` (what the purl spec asks for pypi).
    static func normalizedPythonName(_ name: String) -> String {
        var result = ""
        var inRun = false
        for character in name.lowercased() {
            if character == "-" || character == "_" || character == "." {
                if !inRun { result.append("-") }
                inRun = true
            } else {
                result.append(character)
                inRun = false
            }
        }
        return result
    }

    /// Percent-encodes all but RFC 3986's unreserved characters and `:` (which the purl spec leaves as is).
    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ":"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let digits = Array("0123456789ABCDEF")
                out += "%" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 15)])
            }
        }
        return out
    }
}
