import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// What each registry host asked for and the bearer tokens obtained, per scope, until they expire.
/// Concurrent requests share one probe per host and one token request per scope.
actor AuthCache {
    private struct Token {
        var value: String
        var expires: ContinuousClock.Instant
    }

    private var challenges: [String: AuthChallenge] = [:]
    private var probed: Set<String> = []
    private var probes: [String: Task<(any Error)?, Never>] = [:]
    private var tokens: [String: Token] = [:]
    private var fetches: [String: Task<(String, Duration), any Error>] = [:]

    func challenge(for host: String) -> AuthChallenge? { challenges[host] }
    func learn(_ challenge: AuthChallenge, for host: String) { challenges[host] = challenge }

    /// Runs `probe` once per host, however many requests ask at the same time. A probe that could not
    /// connect is not remembered, so the next request probes again; its error goes to the waiting callers.
    func probeOnce(_ host: String, _ probe: @escaping @Sendable () async -> (any Error)?) async -> (any Error)? {
        if probed.contains(host) { return nil }
        if let running = probes[host] { return await running.value }
        let task = Task { await probe() }
        probes[host] = task
        let error = await task.value
        probes[host] = nil
        if error == nil { probed.insert(host) }
        return error
    }

    /// A valid token for `key`, fetching one (once, for all waiting requests) when there is none.
    func token(for key: String, fetch: @escaping @Sendable () async throws -> (String, Duration)) async throws -> String {
        if let t = tokens[key], ContinuousClock.now < t.expires { return t.value }
        if let running = fetches[key] { return try await running.value.0 }
        let task = Task { try await fetch() }
        fetches[key] = task
        defer { fetches[key] = nil }
        let (value, lifetime) = try await task.value
        // Renew a little early so a token never expires in flight.
        tokens[key] = Token(value: value, expires: ContinuousClock.now + max(lifetime - .seconds(10), .seconds(1)))
        return value
    }

    /// Drops the token a request was refused with (not one a concurrent request already replaced it by).
    func invalidate(_ value: String) {
        tokens = tokens.filter { $0.value.value != value }
    }
}

extension RegistryClient {
    /// Learns how `endpoint` wants clients to authenticate from one unauthenticated `GET /v2/`, as docker
    /// does, so concurrent first requests do not each collect a 401. Returns the connection error when the
    /// registry could not be reached at all.
    func probeAuthentication(_ endpoint: RegistryEndpoint) async -> (any Error)? {
        await auth.probeOnce(endpoint.host) {
            var request = HTTPClientRequest(url: endpoint.base + "/v2/")
            request.headers.add(name: "User-Agent", value: self.options.userAgent)
            if endpoint.scheme == .https { request.tlsConfiguration = self.settings.tlsConfiguration(for: endpoint) }
            let response: HTTPClientResponse
            do {
                response = try await self.http.execute(request, timeout: self.options.connectTimeout + .seconds(30))
            } catch {
                return error
            }
            if response.status == .unauthorized,
               let challenge = self.preferredChallenge(response.headers["WWW-Authenticate"].flatMap(AuthChallenge.parse)) {
                await self.auth.learn(challenge, for: endpoint.host)
            }
            await self.drain(response)
            return nil
        }
    }

    /// Bearer when offered: it limits what a leaked credential can do.
    func preferredChallenge(_ challenges: [AuthChallenge]) -> AuthChallenge? {
        challenges.first { $0.scheme == .bearer } ?? challenges.first
    }

    /// The `Authorization` header for a request to `endpoint` needing `scopes`, or nil when the registry has
    /// not asked for any (it will answer 401 first and `send` learns from that).
    func authorization(for endpoint: RegistryEndpoint, scopes: [String], subject: String) async throws -> String? {
        guard let challenge = await auth.challenge(for: endpoint.host) else { return nil }
        switch challenge.scheme {
        case .basic:
            return try await credentials.credentials(for: endpoint.host)?.basicAuthorization
        case .bearer:
            let key = endpoint.host + " " + scopes.sorted().joined(separator: " ")
            let token = try await auth.token(for: key) {
                try await self.fetchToken(challenge, host: endpoint.host, scopes: scopes, subject: subject)
            }
            return "Bearer " + token
        }
    }

    /// Asks the challenge's realm for a token covering `scopes`: GET with Basic credentials (docker's token
    /// flow), or an OAuth2 refresh-token POST when the stored secret is an identity token.
    func fetchToken(_ challenge: AuthChallenge, host: String, scopes: [String], subject: String) async throws
        -> (String, Duration)
    {
        guard let realm = challenge.realm, var components = URLComponents(string: realm),
              components.scheme == "https" || components.scheme == "http"
        else { throw RegistryError(.protocolError, "registry \(host) sent an invalid token realm for \(subject)") }
        let creds = try await credentials.credentials(for: host)
        var request: HTTPClientRequest
        if let creds, creds.username == "<token>" {
            var form = URLComponents()
            form.queryItems = [URLQueryItem(name: "grant_type", value: "refresh_token"),
                               URLQueryItem(name: "refresh_token", value: creds.password),
                               URLQueryItem(name: "client_id", value: options.userAgent)]
                + (challenge.service.map { [URLQueryItem(name: "service", value: $0)] } ?? [])
                + [URLQueryItem(name: "scope", value: scopes.joined(separator: " "))]
            request = HTTPClientRequest(url: realm)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: form.percentEncodedQuery ?? ""))
        } else {
            var items = components.queryItems ?? []
            if let service = challenge.service { items.append(URLQueryItem(name: "service", value: service)) }
            for scope in scopes { items.append(URLQueryItem(name: "scope", value: scope)) }
            if let creds { items.append(URLQueryItem(name: "account", value: creds.username)) }
            components.queryItems = items.isEmpty ? nil : items
            guard let url = components.string else {
                throw RegistryError(.protocolError, "registry \(host) sent an invalid token realm for \(subject)")
            }
            request = HTTPClientRequest(url: url)
            if let creds { request.headers.add(name: "Authorization", value: creds.basicAuthorization) }
        }
        request.headers.add(name: "User-Agent", value: options.userAgent)
        if components.scheme == "https", let realmHost = components.host {
            let realmEndpoint = settings.endpoint(host: components.port.map { "\(realmHost):\($0)" } ?? realmHost)
            request.tlsConfiguration = settings.tlsConfiguration(for: realmEndpoint)
        }

        var budget = RetryBudget(options.retry)
        while true {
            let response: HTTPClientResponse
            do {
                response = try await http.execute(request, timeout: .seconds(60))
            } catch {
                if isRetriable(error), await budget.shouldRetry() { continue }
                throw RegistryError(.network, "network: cannot reach token server \(realm) for \(subject): \(error)",
                                    underlying: error)
            }
            switch response.status.code {
            case 200:
                let body = try await readSmallBody(response, limit: 1 << 20, subject: "token for \(subject)")
                struct TokenResponse: Decodable {
                    var token: String?
                    var access_token: String?
                    var expires_in: Int?
                }
                guard let decoded = try? JSONDecoder().decode(TokenResponse.self, from: Data(body)),
                      let token = decoded.token ?? decoded.access_token, !token.isEmpty
                else { throw RegistryError(.protocolError, "token server \(realm) sent no token for \(subject)") }
                // The spec's default lifetime is 60 seconds.
                return (token, .seconds(max(decoded.expires_in ?? 60, 60)))
            case 401, 403:
                await drain(response)
                throw RegistryError(.unauthorized, "unauthorized: authentication required for \(subject)")
            case 429, 500...599:
                if await budget.shouldRetry() { await drain(response); continue }
                throw await failure(response, subject: "token for \(subject)")
            default:
                throw await failure(response, subject: "token for \(subject)")
            }
        }
    }
}
