import Foundation
import Glibc
import ImgRuntime
import ImgSystem

/// `--ssh default|ID[=SOCKET|KEY[,KEY...]]`, as `docker build` takes it: every id becomes an ssh agent
/// socket that `RUN --mount=type=ssh,id=ID` steps reach. No value means `$SSH_AUTH_SOCK`; a socket is used
/// as it is; key files are loaded into an `ssh-agent` that img starts for the build and stops after it, so
/// the keys themselves never enter a container, a layer or the cache.
package final class SSHAgents {
    /// id → agent socket.
    package private(set) var sockets: [String: String] = [:]
    private var agents: [ChildProcess] = []
    private var directory: String?

    package init(_ specs: [String], environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        do {
            for spec in specs { try add(spec, environment: environment) }
        } catch {
            stop()
            throw error
        }
    }

    private func add(_ spec: String, environment: [String: String]) throws {
        let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
        guard let id = parts.first, !id.isEmpty else { throw RequestError("invalid --ssh \"\(spec)\": expected ID[=SOCKET|KEY[,KEY...]]") }
        guard sockets[id] == nil else { throw RequestError("invalid --ssh \"\(spec)\": id \(id) is given twice") }
        var paths = parts.count == 2 ? parts[1].split(separator: ",").map(String.init) : []
        if paths.isEmpty {
            guard let socket = environment["SSH_AUTH_SOCK"], !socket.isEmpty else {
                throw RequestError("--ssh \(id): SSH_AUTH_SOCK is not set; start an ssh agent or name a key (--ssh \(id)=$HOME/.ssh/id_ed25519)")
            }
            paths = [socket]
        }
        paths = paths.map { path in
            let expanded = path.hasPrefix("~/") ? (environment["HOME"] ?? "") + path.dropFirst() : path
            return URL(filePath: expanded).standardizedFileURL.path
        }
        var status = stat()
        for path in paths where stat(path, &status) != 0 {
            throw RequestError("--ssh \(id): cannot use \(path): \(String(cString: strerror(errno)))")
        }
        let kinds = paths.map { path -> Bool in
            stat(path, &status)
            return status.st_mode & S_IFMT == S_IFSOCK
        }
        if kinds.allSatisfy({ $0 }), paths.count == 1 {
            sockets[id] = paths[0]
        } else if kinds.contains(true) {
            throw RequestError("--ssh \(id): give either one agent socket or key files, not both")
        } else {
            sockets[id] = try startAgent(id: id, keys: paths)
        }
    }

    /// An `ssh-agent` of our own holding `keys`; its socket is in a short private directory.
    private func startAgent(id: String, keys: [String]) throws -> String {
        guard let agentBinary = ExecutableLookup.find("ssh-agent"), let addBinary = ExecutableLookup.find("ssh-add") else {
            throw RequestError("--ssh \(id): ssh-agent not found: install Debian package openssh-client")
        }
        let directory = try agentDirectory()
        let socket = directory + "/agent-\(agents.count).sock"
        let agent = try ChildProcess(executable: agentBinary, arguments: ["-D", "-a", socket],
                                     environment: ["PATH=/usr/bin:/bin"], stdin: .null, stdout: .null, stderr: .null)
        agents.append(agent)
        var waited = 0
        while access(socket, F_OK) != 0 {
            guard waited < 500 else { throw RequestError("--ssh \(id): ssh-agent did not start") }
            usleep(10_000)
            waited += 1
        }
        var addEnvironment = ["SSH_AUTH_SOCK=\(socket)", "PATH=/usr/bin:/bin", "SSH_ASKPASS_REQUIRE=never"]
        if let home = ProcessInfo.processInfo.environment["HOME"] { addEnvironment.append("HOME=\(home)") }
        let added = try ChildProcess.collect(executable: addBinary, arguments: ["-q"] + keys, environment: addEnvironment)
        guard added.status.isSuccess else {
            let reason = added.stderr.split(separator: "\n").last.map(String.init) ?? "\(added.status)"
            throw RequestError("--ssh \(id): cannot load \(keys.joined(separator: ", ")): \(reason)")
        }
        return socket
    }

    private func agentDirectory() throws -> String {
        if let directory { return directory }
        let path: String
        do { path = try UnixSocketRelay.makeSocketDirectory(prefix: "img-agent") } catch {
            throw RequestError("--ssh: \(error)")
        }
        directory = path
        return path
    }

    /// Stops the agents img started and removes their sockets.
    package func stop() {
        for agent in agents {
            kill(agent.pid, SIGTERM)
            _ = try? agent.wait()
        }
        agents = []
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
        directory = nil
    }
}
