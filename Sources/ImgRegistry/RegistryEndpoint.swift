package import ImgOCI
import NIOSSL

/// One place a repository can be reached: the registry itself or one of its mirrors.
package struct RegistryEndpoint: Sendable, Hashable, CustomStringConvertible {
    package enum Scheme: String, Sendable, Hashable { case http, https }

    /// `host[:port]` as it appears in URLs.
    package var host: String
    package var scheme: Scheme
    /// HTTPS without certificate verification (only when config.toml says `insecure = true`).
    package var skipVerify: Bool
    /// Try plain HTTP when HTTPS cannot connect: docker does this for insecure and loopback registries.
    package var httpFallback: Bool
    package var isMirror: Bool

    package init(host: String, scheme: Scheme = .https, skipVerify: Bool = false, httpFallback: Bool = false,
                 isMirror: Bool = false) {
        self.host = host
        self.scheme = scheme
        self.skipVerify = skipVerify
        self.httpFallback = httpFallback
        self.isMirror = isMirror
    }

    package var base: String { "\(scheme.rawValue)://\(host)" }
    package var description: String { base }

    /// Hosts docker treats as insecure by default.
    static func isLoopback(_ host: String) -> Bool {
        let name: Substring
        if host.hasPrefix("[") { name = host.dropFirst().prefix { $0 != "]" } } else { name = host.split(separator: ":").first ?? "" }
        return name == "localhost" || name.hasPrefix("127.") || name == "::1"
    }
}

extension RegistrySettings {
    /// Where to pull `reference` from, in order: mirrors first, then the registry itself.
    package func endpoints(for reference: Reference, pull: Bool) -> [RegistryEndpoint] {
        var result: [RegistryEndpoint] = []
        if pull {
            for mirror in settings(for: reference.domain).mirrors ?? [] {
                var host = mirror, scheme: RegistryEndpoint.Scheme?
                if host.hasPrefix("http://") { scheme = .http; host.removeFirst(7) }
                if host.hasPrefix("https://") { scheme = .https; host.removeFirst(8) }
                if let slash = host.firstIndex(of: "/") { host = String(host[..<slash]) }
                var e = endpoint(host: host)
                if let scheme { e.scheme = scheme }
                e.isMirror = true
                result.append(e)
            }
        }
        var own = endpoint(host: reference.domain)
        own.host = reference.registryHost
        result.append(own)
        return result
    }

    /// The endpoint for `host` alone, as config.toml describes it.
    package func endpoint(host: String) -> RegistryEndpoint {
        let s = settings(for: host)
        let insecure = s.insecure ?? false
        return RegistryEndpoint(host: host, scheme: (s.http ?? false) ? .http : .https, skipVerify: insecure,
                                httpFallback: insecure || RegistryEndpoint.isLoopback(host))
    }

    /// TLS for `endpoint`: the system roots plus any per-registry CA; no verification for insecure hosts.
    func tlsConfiguration(for endpoint: RegistryEndpoint) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if endpoint.skipVerify {
            tls.certificateVerification = .none
        }
        let cas = caFiles(for: endpoint.host)
        if !cas.isEmpty { tls.additionalTrustRoots = cas.map { .file($0) } }
        if let pair = clientCertificate(for: endpoint.host),
           let chain = try? NIOSSLCertificate.fromPEMFile(pair.cert), let key = try? NIOSSLPrivateKey(file: pair.key, format: .pem) {
            tls.certificateChain = chain.map { .certificate($0) }
            tls.privateKey = .privateKey(key)
        }
        return tls
    }
}
