import AsyncHTTPClient
import Foundation
package import ImgOCI
package import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A client for the OCI distribution API. One instance serves any number of registries and concurrent
/// operations; call `shutdown()` when done.
package final class RegistryClient: Sendable {
    package struct Options: Sendable {
        package var retry = RetryPolicy()
        /// Blobs larger than this are uploaded in chunks (PATCH) rather than in one PUT.
        package var chunkedUploadThreshold: Int64 = 64 << 20
        package var uploadChunkSize: Int64 = 16 << 20
        /// How many blobs `pullImage` fetches at once.
        package var concurrency = 4
        /// How many blobs `pushImage` sends at once: an image's config and new layers are mostly small, and
        /// each costs the registry a POST and a PUT, so more of them in flight shortens the push.
        package var pushConcurrency = 8
        /// A blob smaller than this, not known to be in the target repository, is uploaded without asking
        /// first: a HEAD costs a round trip, about what sending the blob does.
        package var askBeforeUploadingAbove: Int64 = 256 << 10
        /// The largest manifest or index accepted.
        package var maxManifestSize = 4 << 20
        /// Gives up on a connection that sends nothing for this long.
        package var readTimeout: TimeAmount = .seconds(60)
        package var connectTimeout: TimeAmount = .seconds(15)
        package var userAgent = "img"
        package init() {}
    }

    package let settings: RegistrySettings
    package let credentials: any CredentialStore
    package let options: Options
    let http: HTTPClient
    let auth = AuthCache()
    let schemes = SchemeCache()

    package init(settings: RegistrySettings = RegistrySettings(), credentials: any CredentialStore = StaticCredentialStore(),
                 options: Options = Options()) {
        self.settings = settings
        self.credentials = credentials
        self.options = options
        var config = HTTPClient.Configuration()
        // Redirects are followed by hand: credentials must not travel to a blob store on another host.
        config.redirectConfiguration = .disallow
        config.timeout = .init(connect: options.connectTimeout, read: options.readTimeout)
        config.decompression = .disabled
        // A refused or failed connect comes back at once and goes through `RetryPolicy` like any dropped
        // connection: left on, the pool kept reconnecting for the whole connect timeout on every one of
        // our tries, and a registry nobody listens on took 90 s to report.
        config.connectionPool.retryConnectionEstablishment = false
        http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: config)
    }

    package func shutdown() async throws {
        try await http.shutdown()
    }

    /// Checks that `endpoint` speaks the distribution API (`GET /v2/`), authenticating if it asks to.
    package func ping(_ endpoint: RegistryEndpoint) async throws {
        let response = try await send(Request(method: .GET, path: "/v2/", endpoint: endpoint, scopes: [],
                                              subject: endpoint.host))
        try await expect(response, [.ok], subject: endpoint.host)
        await drain(response)
    }

    /// Starts, in the background, what the first request to `reference`'s registry waits for (its scheme,
    /// the authentication probe and with it a pooled connection), so that it overlaps the caller's own
    /// set-up. Failures are not reported here: the real request meets them again and says so.
    package func warmUp(_ reference: Reference) {
        let endpoint = settings.endpoint(host: reference.registryHost)
        Task {
            guard let resolved = try? await self.resolvedScheme(endpoint, subject: reference.name) else { return }
            _ = await self.probeAuthentication(resolved)
        }
    }

    // MARK: Requests

    /// One request, described so it can be sent again on retry.
    struct Request: Sendable {
        var method: HTTPMethod
        /// A path under the endpoint (`/v2/…`) or an absolute URL (upload locations, redirects).
        var path: String
        var endpoint: RegistryEndpoint
        var headers = HTTPHeaders()
        /// Sent afresh on each try (a file is read again from the start of its range).
        var body: RequestBody?
        /// Token scopes (`repository:a/b:pull`); empty for none.
        var scopes: [String]
        /// Names what the request is about in error messages.
        var subject: String
        /// The repository (`host/path`) that access errors name.
        var repository: String?
        /// Whether to send credentials at all (not for a redirect to another host).
        var authenticate = true

        init(method: HTTPMethod, path: String, endpoint: RegistryEndpoint, headers: HTTPHeaders = HTTPHeaders(),
             body: RequestBody? = nil, scopes: [String], subject: String,
             repository: String? = nil) {
            self.repository = repository
            self.method = method
            self.path = path
            self.endpoint = endpoint
            self.headers = headers
            self.body = body
            self.scopes = scopes
            self.subject = subject
        }
    }

    /// Sends `request`, authenticating on 401 and retrying 429/5xx and dropped connections. Returns the
    /// final response whatever its status; callers map statuses to errors with `expect`.
    func send(_ request: Request) async throws -> HTTPClientResponse {
        var budget = RetryBudget(options.retry)
        var reauthenticated = false
        let endpoint = try await resolvedScheme(request.endpoint, subject: request.subject)
        // GET and HEAD go out at once, as containerd sends them: an open registry answers without the extra
        // `GET /v2/` round trip, and one that wants credentials answers 401, which teaches its challenge
        // below. Other requests (uploads) probe first, so a body is not sent only to be refused.
        // A registry that cannot be reached for a reason retrying will not fix (TLS) fails here, once.
        let optimistic = request.method == .GET || request.method == .HEAD
        if request.authenticate, !optimistic, let error = await probeAuthentication(endpoint), !isRetriable(error) {
            throw networkError(error, endpoint: endpoint, subject: request.subject)
        }
        while true {
            var r = HTTPClientRequest(url: url(request.path, on: endpoint))
            r.method = request.method
            r.headers = request.headers
            r.headers.replaceOrAdd(name: "User-Agent", value: options.userAgent)
            var sentAuthorization: String?
            if request.authenticate, let value = try await authorization(for: endpoint, scopes: request.scopes,
                                                                          subject: request.repository ?? request.subject) {
                r.headers.replaceOrAdd(name: "Authorization", value: value)
                sentAuthorization = value
            }
            if case .bytes(let bytes)? = request.body { r.body = .bytes(bytes) }
            if endpoint.scheme == .https { r.tlsConfiguration = settings.tlsConfiguration(for: endpoint) }

            let response: HTTPClientResponse
            do {
                if case .file(let path, let range)? = request.body {
                    response = try await executeUpload(r, file: path, range: range)
                } else {
                    response = try await http.execute(r, timeout: .hours(24))
                }
            } catch {
                if isRetriable(error), await budget.shouldRetry() { continue }
                throw networkError(error, endpoint: endpoint, subject: request.subject)
            }

            switch response.status.code {
            case 401 where request.authenticate && !reauthenticated:
                // Learn (again) how this registry wants us to authenticate, then try once more with a fresh token.
                let challenges = response.headers["WWW-Authenticate"].flatMap(AuthChallenge.parse)
                await drain(response)
                guard let challenge = preferredChallenge(challenges) else { return response }
                await auth.learn(challenge, for: endpoint.host)
                if let sent = sentAuthorization, sent.hasPrefix("Bearer ") { await auth.invalidate(String(sent.dropFirst(7))) }
                reauthenticated = true
                continue
            case 429, 500, 502, 503, 504:
                let retryAfter = response.headers.first(name: "Retry-After").flatMap { Int($0) }.map { Duration.seconds($0) }
                if await budget.shouldRetry(retryAfter: retryAfter) {
                    await drain(response)
                    continue
                }
                return response
            default:
                return response
            }
        }
    }

    /// Full URL for `path` on `endpoint`; absolute URLs (from `Location`) pass through.
    func url(_ path: String, on endpoint: RegistryEndpoint) -> String {
        if path.hasPrefix("http://") || path.hasPrefix("https://") { return path }
        return endpoint.base + (path.hasPrefix("/") ? path : "/" + path)
    }

    /// The endpoint with its scheme settled: an HTTPS endpoint that allows HTTP fallback is probed once.
    func resolvedScheme(_ endpoint: RegistryEndpoint, subject: String) async throws -> RegistryEndpoint {
        guard endpoint.scheme == .https, endpoint.httpFallback else { return endpoint }
        if let known = await schemes.scheme(for: endpoint.host) {
            var e = endpoint
            e.scheme = known
            return e
        }
        var probe = HTTPClientRequest(url: endpoint.base + "/v2/")
        // Only "does it speak TLS at all" decides the scheme; certificates are checked on the real requests,
        // so an untrusted certificate is reported as such rather than silently downgraded to HTTP.
        var tls = settings.tlsConfiguration(for: endpoint)
        tls.certificateVerification = .none
        probe.tlsConfiguration = tls
        let secure = probe
        let plain = HTTPClientRequest(url: "http://" + endpoint.host + "/v2/")
        let http = self.http
        let timeout = options.connectTimeout
        // Both schemes are asked at once and the first clear answer wins: a port speaks one of them, and
        // waiting for HTTPS to give up on a plain-HTTP registry costs the whole connect timeout (the client
        // retries the handshake). Plain HTTP only counts when a registry answered (its API version header),
        // not a TLS server's "400 client sent an HTTP request to an HTTPS server".
        let chosen: RegistryEndpoint.Scheme = await withTaskGroup(of: RegistryEndpoint.Scheme?.self) { group in
            group.addTask {
                guard let response = try? await http.execute(secure, timeout: timeout) else { return nil }
                await Self.discard(response)
                return .https
            }
            group.addTask {
                guard let response = try? await http.execute(plain, timeout: timeout) else { return nil }
                let isRegistry = response.headers.contains(name: "Docker-Distribution-Api-Version")
                await Self.discard(response)
                return isRegistry ? .http : nil
            }
            for await answer in group {
                if let answer {
                    group.cancelAll()
                    return answer
                }
            }
            return .http
        }
        await schemes.set(chosen, for: endpoint.host)
        var e = endpoint
        e.scheme = chosen
        return e
    }

    static func discard(_ response: HTTPClientResponse) async {
        _ = try? await response.body.collect(upTo: 1 << 20)
    }

    // MARK: Responses

    /// Throws the error a user should see unless `response` has one of `statuses`.
    func expect(_ response: HTTPClientResponse, _ statuses: Set<HTTPResponseStatus>, subject: String,
                repository: String? = nil) async throws {
        guard !statuses.contains(response.status) else { return }
        throw await failure(response, subject: subject, repository: repository)
    }

    /// Maps an unexpected response to one clear error, using the registry's own error message when it sent one.
    /// `subject` names what was asked for (`host/repo:tag`); `repository` what access is about (`host/repo`).
    func failure(_ response: HTTPClientResponse, subject: String, repository: String? = nil) async -> RegistryError {
        let body = try? await response.body.collect(upTo: 64 << 10)
        let detail = body.flatMap { RegistryErrorBody.message(from: Array(buffer: $0)) }
        switch response.status.code {
        case 401: return RegistryError(.unauthorized, "unauthorized: authentication required for \(repository ?? subject)")
        case 403: return RegistryError(.denied, "denied: access to \(repository ?? subject) was refused" + (detail.map { " (\($0))" } ?? ""))
        case 404: return RegistryError(.notFound, "not found: \(subject)")
        case 429, 500...599:
            return RegistryError(.unavailable, "unavailable: registry answered \(response.status.code) for \(subject)"
                + (detail.map { " (\($0))" } ?? ""))
        default:
            return RegistryError(.protocolError, "registry answered \(response.status.code) for \(subject)"
                + (detail.map { ": \($0)" } ?? ""))
        }
    }

    func drain(_ response: HTTPClientResponse) async {
        do { for try await _ in response.body {} } catch {}
    }

    func readSmallBody(_ response: HTTPClientResponse, limit: Int, subject: String) async throws -> [UInt8] {
        do {
            return Array(buffer: try await response.body.collect(upTo: limit))
        } catch let e as NIOTooManyBytesError {
            throw RegistryError(.protocolError, "\(subject) is larger than \(limit) bytes", underlying: e)
        } catch {
            throw RegistryError(.network, "network: reading \(subject) failed: \(error)", underlying: error)
        }
    }

    func isRetriable(_ error: any Error) -> Bool {
        if error is CancellationError || error is RegistryError || error is NIOSSLError { return false }
        if let e = error as? HTTPClientError {
            return [.remoteConnectionClosed, .readTimeout, .writeTimeout, .connectTimeout, .deadlineExceeded,
                    .getConnectionFromPoolTimeout, .bodyLengthMismatch].contains(e)
        }
        return true
    }

    func networkError(_ error: any Error, endpoint: RegistryEndpoint, subject: String) -> RegistryError {
        if let e = error as? RegistryError { return e }
        return RegistryError(.network, "network: cannot reach \(endpoint.base) for \(subject): \(Self.describe(error))",
                             underlying: error)
    }

    /// A connect failure as the system names it ("Connection refused"), other errors as they describe
    /// themselves.
    static func describe(_ error: any Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
        if let connect = error as? NIOConnectionError, let first = connect.connectionErrors.first {
            return describe(first.error)
        }
        return "\(error)"
    }
}

/// The distribution spec's error body: `{"errors":[{"code":"…","message":"…"}]}`.
struct RegistryErrorBody: Decodable {
    struct Entry: Decodable {
        var code: String?
        var message: String?
    }
    var errors: [Entry]?

    static func message(from bytes: [UInt8]) -> String? {
        guard let body = try? JSONDecoder().decode(RegistryErrorBody.self, from: Data(bytes)),
              let entries = body.errors, !entries.isEmpty else { return nil }
        return entries.map { [$0.code, $0.message].compactMap { $0 }.joined(separator: ": ") }.joined(separator: "; ")
    }
}

/// Which scheme an HTTP-fallback endpoint turned out to speak.
actor SchemeCache {
    private var schemes: [String: RegistryEndpoint.Scheme] = [:]
    func scheme(for host: String) -> RegistryEndpoint.Scheme? { schemes[host] }
    func set(_ scheme: RegistryEndpoint.Scheme, for host: String) { schemes[host] = scheme }
}
