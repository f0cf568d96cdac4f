// GitServer.swift owns the git repositories and servers the git-source tests start on 127.0.0.1: smart HTTP
// (`git http-backend` behind a Python CGI forwarder, `private/` behind a token), `git daemon`, and sshd.
package import Foundation
import Glibc
import ImgSystem

extension Prerequisite {
    package static let git = tool("git", package: "git")
    package static let sshd = executable("/usr/sbin/sshd", package: "openssh-server")
    package static let sshKeygen = tool("ssh-keygen", package: "openssh-client")
}

/// Bare repositories under `root` (`root/NAME.git`), each with a work tree to commit from, and the servers
/// that serve them. Everything lives in a temporary directory; `stop()` ends the servers.
package final class GitServer {
    package let dir: TemporaryDirectory
    /// Where the bare repositories are: what the servers serve.
    package let root: String
    private var daemons: [Daemon] = []
    private var createdPrivilegeDirectory = false
    private var commits = 0

    package init() throws {
        try Prerequisite.require(.git, .python3)
        dir = try TemporaryDirectory("img-git")
        root = dir.directory("repos")
    }

    deinit { stop() }

    /// Runs git with nothing of the host's configuration and fixed identities; commit times step by a
    /// minute from a fixed date, so they are known and distinct.
    @discardableResult
    package func git(_ arguments: [String], in directory: String? = nil) throws -> String {
        commits += 1
        let date = "@\(1_700_000_000 + commits * 60) +0000"
        let environment = ["PATH=\(standardPath)", "HOME=\(dir.path)", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
                           "GIT_AUTHOR_NAME=img", "GIT_AUTHOR_EMAIL=img@example.com", "GIT_COMMITTER_NAME=img",
                           "GIT_COMMITTER_EMAIL=img@example.com", "GIT_AUTHOR_DATE=\(date)", "GIT_COMMITTER_DATE=\(date)",
                           "GIT_CONFIG_COUNT=2", "GIT_CONFIG_KEY_0=init.defaultBranch", "GIT_CONFIG_VALUE_0=main",
                           "GIT_CONFIG_KEY_1=protocol.file.allow", "GIT_CONFIG_VALUE_1=always"]
        let result = try ChildProcess.collect(executable: try Prerequisite.git.require(),
                                              arguments: (directory.map { ["-C", $0] } ?? []) + arguments,
                                              environment: environment)
        guard result.status.isSuccess else { throw TestFailure("git \(arguments.joined(separator: " ")): \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The work tree of repository `name` (created with its bare repository on first use).
    package func workTree(_ name: String) throws -> String {
        let work = dir.path + "/work/" + name
        if !FileManager.default.fileExists(atPath: work) {
            let bare = root + "/" + name + ".git"
            try FileManager.default.createDirectory(atPath: bare, withIntermediateDirectories: true)
            try git(["init", "-q", "--bare", bare])
            // Commits by id too, as GitHub serves them.
            try git(["config", "uploadpack.allowReachableSHA1InWant", "true"], in: bare)
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            try git(["init", "-q", work])
            try git(["remote", "add", "origin", bare], in: work)
        }
        return work
    }

    /// Writes `files` (path → content; nil removes) into `name`'s work tree, commits them on `branch` and
    /// pushes; returns the commit.
    @discardableResult
    package func commit(_ name: String, _ files: [String: String?], branch: String = "main",
                        executable: Set<String> = [], message: String = "change") throws -> String {
        let work = try workTree(name)
        for (path, content) in files {
            let file = work + "/" + path
            if let content {
                try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent,
                                                        withIntermediateDirectories: true)
                try content.write(toFile: file, atomically: true, encoding: .utf8)
                chmod(file, executable.contains(path) ? 0o755 : 0o644)
            } else {
                try? FileManager.default.removeItem(atPath: file)
            }
        }
        if (try? git(["rev-parse", "--verify", "-q", "HEAD"], in: work)) == nil {
            try git(["checkout", "-q", "-b", branch], in: work)
        } else if try git(["rev-parse", "--abbrev-ref", "HEAD"], in: work) != branch {
            try git(["checkout", "-q", "-B", branch], in: work)
        }
        try git(["add", "-A"], in: work)
        try git(["commit", "-q", "--allow-empty", "-m", message], in: work)
        try git(["push", "-q", "-f", "origin", "HEAD:refs/heads/\(branch)"], in: work)
        return try git(["rev-parse", "HEAD"], in: work)
    }

    /// Adds repository `sub` as submodule `path` of `name` by `url`, committed and pushed.
    @discardableResult
    package func addSubmodule(_ name: String, sub: String, url: String, path: String) throws -> String {
        let work = try workTree(name)
        try git(["submodule", "add", "-q", root + "/" + sub + ".git", path], in: work)
        // Fetchers clone it from the server, not from this directory.
        try git(["config", "-f", ".gitmodules", "submodule.\(path).url", url], in: work)
        try git(["add", ".gitmodules", path], in: work)
        try git(["commit", "-q", "-m", "submodule"], in: work)
        try git(["push", "-q", "origin", "HEAD:refs/heads/main"], in: work)
        return try git(["rev-parse", "HEAD"], in: work)
    }

    /// Tags `name`'s current commit (annotated) and pushes the tag.
    package func tag(_ name: String, _ tag: String) throws {
        let work = try workTree(name)
        try git(["tag", "-a", "-m", tag, tag], in: work)
        try git(["push", "-q", "origin", "refs/tags/\(tag)"], in: work)
    }

    // MARK: servers

    /// Smart HTTP on a free port: `http://127.0.0.1:PORT/NAME.git`; paths under `/private/` need
    /// `Authorization: basic base64(x-access-token:TOKEN)` (or `bearer TOKEN`). Every request is logged
    /// (method, path, whether it was authorized) to `httpLog`.
    package func startHTTP(token: String) async throws -> Int {
        try dir.write("http_git.py", gitHTTPScript)
        for attempt in 0..<3 {
            let port = try LoopbackPort.free()
            let server = try Daemon(try Prerequisite.python3.require(),
                                    [dir.file("http_git.py"), "\(port)", root, token, httpLog, try Prerequisite.git.require()],
                                    log: dir.file("http.out"))
            do {
                try await waitForPort(port, daemon: server)
                daemons.append(server)
                return port
            } catch {
                server.stop()
                if attempt == 2 || !LoopbackPort.lostRace(error) { throw error }
            }
        }
        throw TestFailure("unreachable")
    }

    package var httpLog: String { dir.file("http-requests.log") }

    /// The fetches (upload-pack requests that are not ref listings) logged so far.
    package var uploadPackRequests: Int {
        ((try? String(contentsOfFile: httpLog, encoding: .utf8)) ?? "").split(separator: "\n")
            .filter { $0.hasPrefix("POST ") && $0.contains("git-upload-pack") && $0.hasSuffix(" fetch") }.count
    }

    /// `git daemon` on a free port: `git://127.0.0.1:PORT/NAME.git`.
    package func startDaemon() async throws -> Int {
        let port = try LoopbackPort.free()
        let server = try Daemon(try Prerequisite.git.require(),
                                ["daemon", "--reuseaddr", "--export-all", "--informative-errors", "--listen=127.0.0.1",
                                 "--port=\(port)", "--base-path=\(root)", root],
                                log: dir.file("daemon.out"))
        try await waitForPort(port, daemon: server)
        daemons.append(server)
        return port
    }

    /// sshd on a free port with a throwaway host key, letting the current user in with the key pair it makes
    /// (`clientKey`, no passphrase). `ssh://USER@127.0.0.1:PORT/ROOT/NAME.git`.
    package func startSSH() async throws -> (port: Int, user: String, clientKey: String) {
        let sshd = try Prerequisite.sshd.require()
        let keygen = try Prerequisite.sshKeygen.require()
        for (key, kind) in [("host_key", "ed25519"), ("client_key", "ed25519")] {
            let made = try ChildProcess.collect(executable: keygen,
                                                arguments: ["-q", "-t", kind, "-N", "", "-C", "img-test", "-f", dir.file(key)],
                                                environment: ["PATH=\(standardPath)"])
            guard made.status.isSuccess else { throw TestFailure("ssh-keygen: \(made.stderr)") }
        }
        try FileManager.default.copyItem(atPath: dir.file("client_key.pub"), toPath: dir.file("authorized_keys"))
        // sshd run as root wants its privilege separation directory; made for the test when missing, and
        // removed again by stop().
        if geteuid() == 0, access("/run/sshd", F_OK) != 0 {
            guard mkdir("/run/sshd", 0o755) == 0 else { throw TestFailure("cannot create /run/sshd") }
            createdPrivilegeDirectory = true
        }
        let user = String(cString: getpwuid(geteuid()).pointee.pw_name)
        for attempt in 0..<3 {
            let port = try LoopbackPort.free()
            try dir.write("sshd_config", """
                ListenAddress 127.0.0.1
                Port \(port)
                HostKey \(dir.file("host_key"))
                AuthorizedKeysFile \(dir.file("authorized_keys"))
                PidFile none
                StrictModes no
                UsePAM no
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                PubkeyAuthentication yes
                PermitRootLogin prohibit-password
                AllowUsers \(user)
                LogLevel ERROR

                """)
            let server = try Daemon(sshd, ["-D", "-e", "-f", dir.file("sshd_config")], log: dir.file("sshd.out"))
            do {
                try await waitForPort(port, daemon: server)
                daemons.append(server)
                return (port, user, dir.file("client_key"))
            } catch {
                server.stop()
                if attempt == 2 || !LoopbackPort.lostRace(error) { throw error }
            }
        }
        throw TestFailure("unreachable")
    }

    package func stop() {
        for daemon in daemons { daemon.stop() }
        daemons = []
        if createdPrivilegeDirectory {
            rmdir("/run/sshd")
            createdPrivilegeDirectory = false
        }
    }
}

/// Smart HTTP for git: each request is handed to `git http-backend` as CGI. argv: port root token log git.
let gitHTTPScript = #"""
import base64, os, subprocess, sys
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

port, root, token, log, git = sys.argv[1:6]
accepted = {"basic " + base64.b64encode(("x-access-token:" + token).encode()).decode(), "bearer " + token}

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def do_GET(self):
        self.serve()
    def do_POST(self):
        self.serve()
    def serve(self):
        path, _, query = self.path.partition("?")
        auth = self.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        authorized = (scheme.lower() + " " + value) in accepted
        length = int(self.headers.get("Content-Length", "0") or "0")
        data = self.rfile.read(length) if length else b""
        # Protocol v2 lists refs with a POST too: only a fetch counts as one.
        kind = "ls-refs" if b"command=ls-refs" in data else "fetch" if self.command == "POST" else "get"
        with open(log, "a") as f:
            f.write("%s %s %s %s\n" % (self.command, path, "authorized" if authorized else "anonymous", kind))
        if path.startswith("/private/") and not authorized:
            body = b"authentication required\n"
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="img-test"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_PROJECT_ROOT": root, "GIT_HTTP_EXPORT_ALL": "1",
               "PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": self.command,
               "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(data)),
               "REMOTE_USER": "img" if authorized else "", "REMOTE_ADDR": "127.0.0.1",
               "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        out = subprocess.run([git, "http-backend"], input=data, env=env, capture_output=True).stdout
        head, _, body = out.partition(b"\r\n\r\n")
        if not _:
            head, _, body = out.partition(b"\n\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split(" ")[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()
"""#
