/// An image reference parsed and normalised as docker does: `busybox` is
/// `docker.io/library/busybox:latest`, `localhost:5000/a/b@sha256:…` keeps its registry.
package struct Reference: Sendable, Hashable, CustomStringConvertible {
    /// Registry host with optional port (`docker.io`, `127.0.0.1:5000`).
    package var domain: String
    /// Repository path inside the registry (`library/busybox`).
    package var path: String
    package var tag: String?
    package var digest: Digest?

    package static let dockerHub = "docker.io"
    package static let defaultTag = "latest"

    package init(domain: String, path: String, tag: String? = nil, digest: Digest? = nil) {
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest
    }

    /// `domain/path`, no tag or digest.
    package var name: String { "\(domain)/\(path)" }

    /// The full normalised form: `docker.io/library/busybox:latest`, `host/a@sha256:…`.
    package var description: String {
        var s = name
        if let tag { s += ":\(tag)" }
        if let digest { s += "@\(digest)" }
        return s
    }

    /// What docker prints: Docker Hub's `docker.io/` and `library/` left out (`busybox:latest`).
    package var familiar: String {
        var s = familiarName
        if let tag { s += ":\(tag)" }
        if let digest { s += "@\(digest)" }
        return s
    }

    package var familiarName: String {
        guard domain == Reference.dockerHub else { return name }
        return path.hasPrefix("library/") && path.split(separator: "/").count == 2 ? String(path.dropFirst(8)) : path
    }

    /// With `:latest` added when neither a tag nor a digest was given.
    package var withDefaultTag: Reference {
        var r = self
        if tag == nil, digest == nil { r.tag = Reference.defaultTag }
        return r
    }

    /// The host to contact: Docker Hub's API lives at `registry-1.docker.io`.
    package var registryHost: String { domain == Reference.dockerHub ? "registry-1.docker.io" : domain }
}

extension Reference {
    /// Parses `text` the way `docker pull` does. Errors name the reference and say what is wrong.
    package init(parsing text: String) throws(OCIError) {
        func fail(_ why: String) -> OCIError { OCIError("reference", "invalid reference \"\(text)\": \(why)") }
        guard !text.isEmpty else { throw fail("empty reference") }
        if text.utf8.count == 64, text.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) {
            throw fail("cannot specify 64-byte hexadecimal strings")
        }
        var rest = Substring(text)
        var digest: Digest?
        if let at = rest.firstIndex(of: "@") {
            do { digest = try Digest(parsing: String(rest[rest.index(after: at)...])) } catch { throw fail(error.message) }
            rest = rest[..<at]
        }
        // A tag follows the last ':' that comes after the last '/'; an earlier ':' is a port.
        var tag: String?
        let lastSlash = rest.lastIndex(of: "/")
        if let colon = rest.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
            let t = String(rest[rest.index(after: colon)...])
            guard Reference.isValidTag(t) else { throw fail("invalid tag \"\(t)\"") }
            tag = t
            rest = rest[..<colon]
        }
        guard !rest.isEmpty else { throw fail("missing repository name") }

        var domain = Reference.dockerHub
        var path = String(rest)
        if let slash = rest.firstIndex(of: "/") {
            let first = rest[..<slash]
            if first.contains(".") || first.contains(":") || first == "localhost" || first.lowercased() != first {
                domain = String(first)
                path = String(rest[rest.index(after: slash)...])
            }
        }
        if domain == "index.docker.io" { domain = Reference.dockerHub }
        guard Reference.isValidDomain(domain) else { throw fail("invalid registry host \"\(domain)\"") }
        if path.lowercased() != path { throw fail("repository name must be lowercase") }
        guard Reference.isValidPath(path) else { throw fail("invalid repository name \"\(path)\"") }
        if domain == Reference.dockerHub, !path.contains("/") { path = "library/" + path }
        guard domain.utf8.count + 1 + path.utf8.count <= 255 else { throw fail("repository name must not be more than 255 characters") }
        self.init(domain: domain, path: path, tag: tag, digest: digest)
    }

    /// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`
    static func isValidTag(_ t: String) -> Bool {
        let u = Array(t.utf8)
        guard (1...128).contains(u.count), isWord(u[0]) else { return false }
        return u.allSatisfy { isWord($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// Path components: `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
    static func isValidPath(_ p: String) -> Bool {
        let components = p.split(separator: "/", omittingEmptySubsequences: false)
        return components.allSatisfy { component in
            let u = Array(component.utf8)
            guard let first = u.first, let last = u.last, isLowerAlnum(first), isLowerAlnum(last) else { return false }
            var i = 0
            while i < u.count {
                if isLowerAlnum(u[i]) { i += 1; continue }
                // A separator: '.', '_', '__', or one or more '-'.
                var j = i
                if u[i] == UInt8(ascii: "-") {
                    while j < u.count, u[j] == UInt8(ascii: "-") { j += 1 }
                } else if u[i] == UInt8(ascii: ".") {
                    j += 1
                } else if u[i] == UInt8(ascii: "_") {
                    j += 1
                    if j < u.count, u[j] == UInt8(ascii: "_") { j += 1 }
                } else {
                    return false
                }
                guard j < u.count, isLowerAlnum(u[j]) else { return false }
                i = j
            }
            return true
        }
    }

    /// `host[:port]` where host is DNS labels, an IPv4 address or `[IPv6]`.
    static func isValidDomain(_ d: String) -> Bool {
        var host = Substring(d)
        if let colon = d.lastIndex(of: ":"), !d.hasSuffix("]") {
            let port = d[d.index(after: colon)...]
            guard !port.isEmpty, port.allSatisfy(\.isASCII), port.allSatisfy(\.isNumber) else { return false }
            host = d[..<colon]
        }
        if host.hasPrefix("[") {
            return host.hasSuffix("]") && host.count > 2
                && host.dropFirst().dropLast().allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        }
        return !host.isEmpty && host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            let u = Array(label.utf8)
            guard let f = u.first, let l = u.last, isAlnum(f), isAlnum(l) else { return false }
            return u.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") }
        }
    }

    private static func isLowerAlnum(_ c: UInt8) -> Bool { (0x61...0x7a).contains(c) || (0x30...0x39).contains(c) }
    private static func isAlnum(_ c: UInt8) -> Bool { isLowerAlnum(c) || (0x41...0x5a).contains(c) }
    private static func isWord(_ c: UInt8) -> Bool { isAlnum(c) || c == UInt8(ascii: "_") }
}
