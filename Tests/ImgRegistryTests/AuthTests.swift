import Foundation
import ImgOCI
import ImgRegistry
import Testing
import ImgTestSupport

/// Basic auth over TLS and docker's token flow against real registries.
@Suite struct AuthTests {
    static let user = "tester"
    static let password = "s3cret"

    func credentials(for registry: TestRegistry, password: String = AuthTests.password) -> StaticCredentialStore {
        StaticCredentialStore([registry.host: Credentials(username: Self.user, password: password)])
    }

    @Test(.needs(.dockerRegistry, .openssl, .htpasswd, .busybox, .tar, .gzip))
    func basicAuthOverTLSWithCredentialsFromConfigJSON() async throws {
        try Prerequisite.require(.dockerRegistry, .openssl, .htpasswd, .busybox, .tar, .gzip)
        try await withRegistry(.tlsBasic(user: Self.user, password: Self.password)) { registry in
            let image = try TestImage.make(in: registry.dir)
            let auth = Data("\(Self.user):\(Self.password)".utf8).base64EncodedString()
            try #"{"auths": {"https://\#(registry.host)": {"auth": "\#(auth)"}}}"#
                .write(toFile: registry.dir.file("config.json"), atomically: true, encoding: .utf8)
            let dockerConfig = DockerConfig(path: registry.dir.file("config.json"))
            try await withClient(settings: registry.settings(), credentials: dockerConfig) { client in
                let ref = try registry.reference("secure/image:1")
                try await client.pushImage(ref, root: image.root) { try image.content($0) }
                let dir = registry.dir.file("pulled")
                try await client.pull(ref, into: dir)
                #expect(try verifyContentDirectory(dir) == 3)
            }
        }
    }

    @Test(.needs(.dockerRegistry, .openssl, .htpasswd))
    func wrongPasswordIsUnauthorizedNamingTheRepository() async throws {
        try Prerequisite.require(.dockerRegistry, .openssl, .htpasswd)
        try await withRegistry(.tlsBasic(user: Self.user, password: Self.password)) { registry in
            try await withClient(settings: registry.settings(), credentials: credentials(for: registry, password: "wrong")) { client in
                let error = await #expect(throws: RegistryError.self) {
                    try await client.fetchManifest(try registry.reference("a/b:latest"))
                }
                #expect(error?.code == .unauthorized)
                #expect(error?.description == "unauthorized: authentication required for \(registry.host)/a/b")
            }
        }
    }

    @Test(.needs(.dockerRegistry, .openssl, .htpasswd))
    func tlsNeedsTheCAUnlessMarkedInsecure() async throws {
        try Prerequisite.require(.dockerRegistry, .openssl, .htpasswd)
        try await withRegistry(.tlsBasic(user: Self.user, password: Self.password)) { registry in
            let ref = try registry.reference("a/b:latest")
            var options = RegistryClient.Options()
            options.retry = .none
            options.connectTimeout = .seconds(3)
            // No CA: the certificate is not trusted and the error says which registry.
            try await withClient(settings: RegistrySettings(), credentials: credentials(for: registry), options: options) { client in
                let error = await #expect(throws: RegistryError.self) { try await client.fetchManifest(ref) }
                #expect(error?.code == .network)
                #expect(error?.description.contains(registry.host) == true)
            }
            // insecure = true: TLS without verification; the registry then says the image is missing.
            let insecure = try RegistrySettings.parse("[registry.\"\(registry.host)\"]\ninsecure = true\n")
            try await withClient(settings: insecure, credentials: credentials(for: registry), options: options) { client in
                let error = await #expect(throws: RegistryError.self) { try await client.fetchManifest(ref) }
                #expect(error?.code == .notFound)
            }
            // A CA named in config.toml works like one in certs.d.
            let withCA = try RegistrySettings.parse("[registry.\"\(registry.host)\"]\nca = [\"\(registry.caPath!)\"]\n")
            try await withClient(settings: withCA, credentials: credentials(for: registry), options: options) { client in
                let error = await #expect(throws: RegistryError.self) { try await client.fetchManifest(ref) }
                #expect(error?.code == .notFound)
            }
        }
    }

    @Test(.needs(.dockerRegistry, .openssl, .python3, .busybox, .tar, .gzip), arguments: ["token", "access_token"])
    func credentialedTokenFlowReusesTokens(field: String) async throws {
        try Prerequisite.require(.dockerRegistry, .openssl, .python3, .busybox, .tar, .gzip)
        try await withRegistry(.token(user: Self.user, password: Self.password, field: field)) { registry in
            let image = try TestImage.make(in: registry.dir)
            try await withClient(settings: registry.settings(), credentials: credentials(for: registry)) { client in
                let ref = try registry.reference("tok/image:1")
                try await client.pushImage(ref, root: image.root) { try image.content($0) }
                let dir = registry.dir.file("pulled")
                try await client.pull(ref, into: dir)
                #expect(try verifyContentDirectory(dir) == 3)
            }
            // The launcher's readiness ping asked for a scope-less token; the client's requests all have scopes.
            let requests = registry.tokenRequests().filter { !(($0["scope"] as? [String]) ?? []).isEmpty }
            #expect(requests.allSatisfy { $0["who"] as? String == Self.user }, "\(requests)")
            // One token per scope, reused for every request that needs it (blobs, uploads, manifests).
            let pushScope = requests.filter { ($0["scope"] as? [String]) == ["repository:tok/image:pull,push"] }
            #expect(pushScope.count == 1, "\(requests)")
            #expect(requests.count == 2, "\(requests)")
            #expect(requests.allSatisfy { ($0["service"] as? [String]) == ["img-test"] })
        }
    }

    @Test(.needs(.dockerRegistry, .openssl, .python3, .busybox, .tar, .gzip))
    func anonymousTokenFlowPullsButCannotPush() async throws {
        try Prerequisite.require(.dockerRegistry, .openssl, .python3, .busybox, .tar, .gzip)
        try await withRegistry(.token(user: Self.user, password: Self.password, field: "token")) { registry in
            let image = try TestImage.make(in: registry.dir)
            let ref = try registry.reference("tok/public:1")
            try await withClient(settings: registry.settings(), credentials: credentials(for: registry)) { client in
                try await client.pushImage(ref, root: image.root) { try image.content($0) }
            }
            try await withClient(settings: registry.settings()) { client in
                let dir = registry.dir.file("pulled")
                try await client.pull(ref, into: dir)
                #expect(try verifyContentDirectory(dir) == 3)
                let error = await #expect(throws: RegistryError.self) {
                    try await client.pushImage(try registry.reference("tok/other:1"), root: image.root) { try image.content($0) }
                }
                #expect(error?.code == .unauthorized)
                #expect(error?.description.contains("\(registry.host)/tok/other") == true)
            }
            #expect(registry.tokenRequests().contains { $0["who"] as? String == "anonymous" })
        }
    }

    @Test(.needs(.dockerRegistry, .openssl, .python3))
    func tokenServerRejectingThePasswordIsUnauthorized() async throws {
        try Prerequisite.require(.dockerRegistry, .openssl, .python3)
        try await withRegistry(.token(user: Self.user, password: Self.password, field: "token")) { registry in
            try await withClient(settings: registry.settings(), credentials: credentials(for: registry, password: "nope")) { client in
                let error = await #expect(throws: RegistryError.self) {
                    try await client.fetchManifest(try registry.reference("tok/image:1"))
                }
                #expect(error?.description == "unauthorized: authentication required for \(registry.host)/tok/image")
            }
            #expect(registry.tokenRequests().contains { $0["who"] as? String == "bad-credentials" })
        }
    }
}
