import Foundation
import ImgOCI
package import ImgRegistry

/// The registry client a command uses: settings from config.toml, credentials from docker's config.json.
package enum RegistryAccess {
    package static func client(insecureHosts: [String] = [], credentials: (any CredentialStore)? = nil) throws -> RegistryClient {
        var settings = try RegistrySettings.standard()
        for host in insecureHosts {
            var s = settings.settings(for: host)
            s.insecure = true
            settings.hosts[host] = s
        }
        return RegistryClient(settings: settings, credentials: credentials ?? DockerConfig.standard())
    }

    /// Runs `body` with a client and always shuts the client down afterwards.
    package static func with<T>(_ client: RegistryClient, _ body: (RegistryClient) async throws -> T) async throws -> T {
        do {
            let result = try await body(client)
            try? await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}
