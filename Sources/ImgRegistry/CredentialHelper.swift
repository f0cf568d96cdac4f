import Foundation

/// A `docker-credential-<name>` program: `get`/`store`/`erase` with the request on stdin and JSON on stdout.
struct CredentialHelper: Sendable {
    let name: String
    let environment: [String: String]

    var program: String { "docker-credential-" + name }

    func get(server: String) throws -> Credentials? {
        let (status, out, err) = try run("get", input: Array(server.utf8))
        if status != 0 {
            let message = String(decoding: out + err, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            // Helpers say "credentials not found" on stdout when they hold nothing for the server.
            if message.lowercased().contains("not found") { return nil }
            throw RegistryError(.configuration, "\(program) get \(server) failed: \(message)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(out)) as? [String: Any],
              let user = object["Username"] as? String, let secret = object["Secret"] as? String
        else { throw RegistryError(.configuration, "\(program) get \(server) returned invalid JSON") }
        if user.isEmpty, secret.isEmpty { return nil }
        return Credentials(username: user, password: secret)
    }

    func store(server: String, _ credentials: Credentials) throws {
        let payload: [String: String] = ["ServerURL": server, "Username": credentials.username, "Secret": credentials.password]
        let input = try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys, .withoutEscapingSlashes])
        let (status, out, err) = try run("store", input: Array(input))
        guard status == 0 else {
            throw RegistryError(.configuration, "\(program) store \(server) failed: \(String(decoding: out + err, as: UTF8.self))")
        }
    }

    func erase(server: String) throws {
        let (status, out, err) = try run("erase", input: Array(server.utf8))
        guard status == 0 else {
            throw RegistryError(.configuration, "\(program) erase \(server) failed: \(String(decoding: out + err, as: UTF8.self))")
        }
    }

    private func executable() throws -> String {
        let paths = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
        for dir in paths {
            let candidate = "\(dir)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw RegistryError(.configuration, "credential helper \(program) not found in PATH")
    }

    private func run(_ verb: String, input: [UInt8]) throws -> (Int32, [UInt8], [UInt8]) {
        let result = try HelperProcess.run(try executable(), [verb], input: input, environment: environment)
        return (result.status, result.stdout, result.stderr)
    }
}
