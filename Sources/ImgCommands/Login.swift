import ArgumentParser
import Foundation
import ImgExport
import ImgOCI
import ImgRegistry

/// `img login [SERVER]`: check credentials against the registry, then store them in docker's config.json
/// (or its credential helper).
struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "login", abstract: "Log in to a Docker registry (default Docker Hub).")

    @OptionGroup var global: GlobalOptions
    @ParentCommand var root: ImgCommand

    @Option(name: [.short, .long], help: "Username.") var username: String?
    @Option(name: [.short, .long], help: "Password (prefer --password-stdin).") var password: String?
    @Flag(help: "Take the password from stdin.") var passwordStdin = false

    @Argument(help: ArgumentHelp("Registry host.", valueName: "SERVER")) var server: String?

    func validate() throws {
        if passwordStdin, password != nil { throw ValidationError("--password and --password-stdin are mutually exclusive") }
        if passwordStdin, username == nil { throw ValidationError("must provide --username with --password-stdin") }
    }

    func run() async throws {
        let options = root.global.merged(with: global)
        _ = options
        try await reportingErrors {
            let host = RegistryHost.canonical(server)
            if password != nil { StandardError.print("WARNING! Using --password via the CLI is insecure. Use --password-stdin.") }
            let user = try username ?? Prompt.line("Username: ")
            var secret = password
            if passwordStdin {
                secret = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                while secret?.last == "\n" || secret?.last == "\r" { secret?.removeLast() }
            }
            let pass = try secret ?? Prompt.secret("Password: ")
            guard !user.isEmpty, !pass.isEmpty else { throw CommandError("username and password must not be empty") }
            let credentials = Credentials(username: user, password: pass)
            let store = StaticCredentialStore(Dictionary([(host, credentials), (RegistryHost.apiHost(host), credentials)],
                                                         uniquingKeysWith: { a, _ in a }))
            let client = try RegistryAccess.client(credentials: store)
            try await RegistryAccess.with(client) { client in
                try await client.ping(try RegistrySettings.standard().endpoint(host: RegistryHost.apiHost(host)))
            }
            try DockerConfig.standard().store(credentials, for: host)
            print("Login Succeeded")
        }
    }
}

/// `img logout [SERVER]`: forget stored credentials.
struct Logout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logout", abstract: "Log out from a Docker registry (default Docker Hub).")

    @OptionGroup var global: GlobalOptions
    @ParentCommand var root: ImgCommand

    @Argument(help: ArgumentHelp("Registry host.", valueName: "SERVER")) var server: String?

    func run() async throws {
        try await reportingErrors {
            let host = RegistryHost.canonical(server)
            let config = DockerConfig.standard()
            guard try await config.credentials(for: host) != nil else {
                print("Not logged in to \(host)")
                return
            }
            try config.erase(for: host)
            print("Removing login credentials for \(host)")
        }
    }
}

/// Registry host names as docker's config.json keys them.
enum RegistryHost {
    /// `nil`, `docker.io`, `index.docker.io` and `https://index.docker.io/v1/` all mean Docker Hub.
    static func canonical(_ server: String?) -> String {
        guard let server, !server.isEmpty else { return Reference.dockerHub }
        return DockerConfig.canonicalHost(DockerConfig.host(ofKey: server))
    }
    /// Docker Hub's API lives on another host than its name.
    static func apiHost(_ host: String) -> String { host == Reference.dockerHub ? "registry-1.docker.io" : host }
}

/// Interactive prompts on the terminal.
enum Prompt {
    static func line(_ prompt: String) throws -> String {
        FileHandle.standardError.write(Data(prompt.utf8))
        guard let line = readLine() else { throw CommandError("no username given (use --username)") }
        return line
    }
    static func secret(_ prompt: String) throws -> String {
        guard isatty(0) != 0, let p = getpass(prompt) else {
            throw CommandError("no password given: use --password-stdin when stdin is not a terminal")
        }
        return String(cString: p)
    }
}
