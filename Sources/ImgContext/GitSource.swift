import Foundation
import Glibc
package import ImgErrors
import ImgSystem

/// A git address as BuildKit reads one (`ADD <git ref>`, a git build context): the remote, then an optional
/// `#ref:subdir` fragment. Remotes are `https://` and `http://` URLs, `git://`, `ssh://[user@]host[:port]/path`
/// and scp-like `user@host:path`.
package struct GitAddress: Sendable, Hashable {
    package enum Transport: Sendable, Hashable { case http, ssh, git }

    /// What git is given: the address without its fragment.
    package var remote: String
    /// Branch, tag, full ref or commit; nil is the remote's HEAD.
    package var ref: String?
    /// The directory inside the repository that is used; nil is its root.
    package var subdirectory: String?
    package var transport: Transport
    /// The host (without port) credentials are looked up for: `GIT_AUTH_TOKEN.<host>`.
    package var host: String
    /// `host:port` when a port is given, else `host`.
    package var hostAndPort: String

    /// nil when `text` is not a git address of a form git can fetch.
    package static func parse(_ text: String) -> GitAddress? {
        var remote = text
        var fragment: String?
        if let hash = text.firstIndex(of: "#") {
            remote = String(text[..<hash])
            fragment = String(text[text.index(after: hash)...])
        }
        var ref: String?
        var subdirectory: String?
        if let fragment {
            let parts = fragment.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            ref = parts[0].isEmpty ? nil : parts[0]
            if parts.count == 2 {
                let cleaned = parts[1].split(separator: "/").filter { $0 != "." }.joined(separator: "/")
                if cleaned.split(separator: "/").contains("..") { return nil }
                subdirectory = cleaned.isEmpty ? nil : cleaned
            }
        }
        let transport: Transport
        let authority: Substring
        if let scheme = ["https://", "http://", "git://", "ssh://"].first(where: { remote.hasPrefix($0) }) {
            transport = scheme == "git://" ? .git : scheme == "ssh://" ? .ssh : .http
            let rest = remote.dropFirst(scheme.count)
            authority = rest.prefix { $0 != "/" }
            guard rest.count > authority.count + 1 else { return nil }
        } else if let at = remote.firstIndex(of: "@"), let colon = remote[at...].firstIndex(of: ":"),
                  !remote[..<at].contains("/"), colon < remote.endIndex {
            // scp-like `git@host:org/repo.git`.
            transport = .ssh
            authority = remote[..<colon]
            guard remote.index(after: colon) < remote.endIndex else { return nil }
        } else {
            return nil
        }
        // Never something git or ssh would take for an option.
        guard !remote.hasPrefix("-"), !authority.hasPrefix("-") else { return nil }
        let hostPart = authority.split(separator: "@").last.map(String.init) ?? ""
        guard !hostPart.isEmpty, !hostPart.hasPrefix("-") else { return nil }
        let host: String
        if hostPart.hasPrefix("["), let close = hostPart.firstIndex(of: "]") {
            host = String(hostPart[hostPart.index(after: hostPart.startIndex)..<close])
        } else {
            host = String(hostPart.split(separator: ":", maxSplits: 1).first ?? "")
        }
        return GitAddress(remote: remote, ref: ref, subdirectory: subdirectory, transport: transport, host: host,
                          hostAndPort: hostPart)
    }

    /// The address for messages and the cache key: a password in the URL is left out.
    package var display: String {
        var shown = Self.redacted(remote)
        if ref != nil || subdirectory != nil {
            shown += "#" + (ref ?? "") + (subdirectory.map { ":" + $0 } ?? "")
        }
        return shown
    }

    /// As provenance names it: `display`, without any user name either for http(s), where it can be a token.
    package var withoutUser: String {
        let shown = display
        guard shown.hasPrefix("http://") || shown.hasPrefix("https://"), let scheme = shown.range(of: "://") else { return shown }
        let rest = shown[scheme.upperBound...]
        let authority = rest.prefix { $0 != "/" }
        guard let at = authority.lastIndex(of: "@") else { return shown }
        return String(shown[..<scheme.upperBound]) + rest[rest.index(after: at)...]
    }

    static func redacted(_ remote: String) -> String {
        guard let scheme = remote.range(of: "://") else { return remote }
        let rest = remote[scheme.upperBound...]
        let authority = rest.prefix { $0 != "/" }
        guard let at = authority.lastIndex(of: "@") else { return remote }
        let user = authority[..<at].split(separator: ":", maxSplits: 1).first ?? ""
        return String(remote[..<scheme.upperBound]) + user + "@" + rest[rest.index(after: at)...]
    }

    /// `http://host[:port]/`: the prefix git matches `http.<url>.extraHeader` against, so the credentials go
    /// to this server (and submodules on it) only.
    var origin: String {
        let scheme = remote.hasPrefix("https://") ? "https://" : "http://"
        return scheme + hostAndPort.split(separator: "@").last.map(String.init)! + "/"
    }
}

/// What a fetch authenticates with; nothing of it reaches a key, a layer, a log line or git's command line.
package struct GitCredentials: Sendable {
    /// `GIT_AUTH_TOKEN`: sent as BuildKit sends it, `Authorization: basic base64(x-access-token:TOKEN)`.
    package var token: String?
    /// `GIT_AUTH_HEADER`: the whole `Authorization` value (`bearer TOKEN`, `basic ...`).
    package var header: String?
    /// The ssh agent ssh remotes are reached through.
    package var sshAgentSocket: String?

    package init(token: String? = nil, header: String? = nil, sshAgentSocket: String? = nil) {
        self.token = token
        self.header = header
        self.sshAgentSocket = sshAgentSocket
    }

    /// BuildKit's lookup: the secret `NAME.<host>` first, then `NAME`; `read` gives a secret's value.
    package static func lookup(for address: GitAddress, sshAgents: [String: String],
                               read: (String) -> String?) -> GitCredentials {
        func secret(_ name: String) -> String? {
            for id in [name + "." + address.hostAndPort, name + "." + address.host, name] {
                if let value = read(id)?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty { return value }
            }
            return nil
        }
        var credentials = GitCredentials()
        if address.transport == .http {
            credentials.token = secret("GIT_AUTH_TOKEN")
            credentials.header = secret("GIT_AUTH_HEADER")
        }
        if address.transport == .ssh {
            credentials.sshAgentSocket = sshAgents["default"] ?? sshAgents.keys.sorted().first.flatMap { sshAgents[$0] }
        }
        return credentials
    }

    var secrets: [String] { [token, header].compactMap { $0 } }
}

/// A git fetch or checkout that failed: one line naming the address (never a credential).
package struct GitError: ImgError, Hashable {
    package var message: String
    package var errorCode: String { "git" }
    package var description: String { message }
    package init(_ message: String) { self.message = message }
}

/// Fetches from git remotes with Debian's `git` binary, as BuildKit's git source does: the ref resolved with
/// `git ls-remote` first (the commit is what a cache key holds), then a shallow fetch of that commit, the
/// checkout, and the submodules.
package struct GitFetcher: Sendable {
    package let git: String

    package init() throws(GitError) {
        guard let git = ExecutableLookup.find("git") else {
            throw GitError("git sources need the git binary: install Debian package git")
        }
        self.git = git
    }

    /// The commit `address`'s ref names now, and the remote ref fetched for it (nil for a commit given
    /// as is, which needs no network).
    package func resolve(_ address: GitAddress, credentials: GitCredentials) throws(GitError) -> (commit: String, ref: String?) {
        if let ref = address.ref, Self.isCommit(ref) { return (ref.lowercased(), nil) }
        let listed = try run(["ls-remote", "--", address.remote], in: nil, address: address, credentials: credentials,
                             doing: "cannot list its refs")
        var refs: [String: String] = [:]
        for line in listed.split(separator: "\n") {
            let fields = line.split(separator: "\t", maxSplits: 1)
            if fields.count == 2 { refs[String(fields[1])] = String(fields[0]) }
        }
        let wanted = address.ref ?? "HEAD"
        let candidates = wanted == "HEAD" || wanted.hasPrefix("refs/") ? [wanted] : ["refs/tags/" + wanted, "refs/heads/" + wanted]
        for name in candidates {
            // An annotated tag names a tag object; its commit is listed as `NAME^{}`.
            if let commit = refs[name + "^{}"] ?? refs[name] { return (commit, name) }
        }
        if address.ref == nil { throw GitError("\(address.display): the remote has no HEAD") }
        throw GitError("\(address.display): ref \(wanted) not found")
    }

    /// Checks `commit` out into the empty directory `directory` with its submodules; without `keepGitDir`
    /// every `.git` is removed. Files, directories and links then have the commit's time as mtime (BuildKit's
    /// `git.mtime=commit`) and modes 0644/0755 (git keeps only the executable bit), so one commit always
    /// gives the same files whatever the umask or the clock.
    /// Returns the commit's time (seconds since 1970).
    @discardableResult
    package func checkout(_ address: GitAddress, commit: String, ref: String?, into directory: String,
                          keepGitDir: Bool, credentials: GitCredentials) throws(GitError) -> Int64 {
        func git(_ arguments: [String], _ doing: String) throws(GitError) -> String {
            try run(arguments, in: directory, address: address, credentials: credentials, doing: doing)
        }
        _ = try git(["init", "-q"], "cannot create a repository")
        _ = try git(["remote", "add", "origin", address.remote], "cannot add the remote")
        var fetched = false
        if let ref {
            // The ref, shallow: what every server serves. It may have moved since ls-remote; then the commit
            // itself is asked for below.
            if (try? git(["fetch", "-q", "--depth=1", "--no-tags", "origin", "+\(ref):refs/img/fetched"], "")) != nil,
               let tip = try? git(["rev-parse", "--verify", "-q", "refs/img/fetched^{commit}"], ""),
               tip.trimmingCharacters(in: .whitespacesAndNewlines) == commit {
                fetched = true
            }
        }
        if !fetched, (try? git(["fetch", "-q", "--depth=1", "--no-tags", "origin", commit], "")) != nil {
            fetched = true
        }
        if !fetched {
            // A server that refuses a commit by id (no allowReachableSHA1InWant): everything, then the commit.
            _ = try git(["fetch", "-q", "--tags", "origin", "+refs/heads/*:refs/remotes/origin/*"], "cannot fetch \(commit)")
        }
        _ = try git(["-c", "advice.detachedHead=false", "checkout", "-q", "--detach", commit], "cannot check out \(commit)")
        _ = try? git(["update-ref", "-d", "refs/img/fetched"], "")
        if keepGitDir {
            // What is kept names the remote without a password, as BuildKit leaves it, and no fetch state.
            _ = try? git(["remote", "set-url", "origin", GitAddress.redacted(address.remote)], "")
            _ = try? git(["reflog", "expire", "--all", "--expire=now"], "")
            try? FileManager.default.removeItem(atPath: directory + "/.git/FETCH_HEAD")
        }
        _ = try git(["submodule", "update", "--init", "--recursive", "-q"], "cannot fetch its submodules")
        let seconds = try git(["show", "-s", "--format=%ct", commit], "cannot read the commit time")
        let time = Int(seconds.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        do {
            try Self.normalize(directory, time: time, removeGitDirectories: !keepGitDir)
        } catch {
            throw GitError("\(address.display): \(error)")
        }
        return Int64(time)
    }

    /// The directory of the checkout that is used: the fragment's subdirectory, which must be a directory of
    /// the checkout itself (no link out of it).
    package static func contextRoot(_ address: GitAddress, checkout: String) throws(GitError) -> String {
        guard let subdirectory = address.subdirectory else { return checkout }
        let path = checkout + "/" + subdirectory
        var info = stat()
        guard let real = realpath(path, nil), let base = realpath(checkout, nil) else {
            throw GitError("\(address.display): \(subdirectory) is not a directory in the repository")
        }
        defer { free(real); free(base) }
        let resolved = String(cString: real), root = String(cString: base)
        guard resolved == root || resolved.hasPrefix(root + "/"), stat(resolved, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw GitError("\(address.display): \(subdirectory) is not a directory in the repository")
        }
        return resolved
    }

    package static func isCommit(_ text: String) -> Bool {
        (text.count == 40 || text.count == 64) && text.allSatisfy(\.isHexDigit)
    }

    /// Runs git with nothing of the user's or the system's configuration, no prompt, and the credentials in
    /// its environment only. Returns stdout; a failure is one line with git's last error line.
    private func run(_ arguments: [String], in directory: String?, address: GitAddress, credentials: GitCredentials,
                     doing: String) throws(GitError) -> String {
        var environment = ["GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
                           "GIT_ASKPASS=/bin/false", "SSH_ASKPASS_REQUIRE=never", "LC_ALL=C", "TZ=UTC"]
        let inherited = ProcessInfo.processInfo.environment
        environment.append("PATH=" + (inherited["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"))
        if let home = inherited["HOME"] { environment.append("HOME=" + home) }
        // Configuration through the environment (git 2.31+), not `-c`: the header never shows in `ps`.
        var config: [(String, String)] = [("init.defaultBranch", "main"), ("protocol.file.allow", "user")]
        if let header = credentials.header {
            config.append(("http.\(address.origin).extraHeader", "Authorization: " + header))
        } else if let token = credentials.token {
            let basic = Data("x-access-token:\(token)".utf8).base64EncodedString()
            config.append(("http.\(address.origin).extraHeader", "Authorization: basic " + basic))
        }
        environment.append("GIT_CONFIG_COUNT=\(config.count)")
        for (index, entry) in config.enumerated() {
            environment.append("GIT_CONFIG_KEY_\(index)=\(entry.0)")
            environment.append("GIT_CONFIG_VALUE_\(index)=\(entry.1)")
        }
        // As BuildKit does without known hosts: the host key is not checked (nor written anywhere).
        environment.append("GIT_SSH_COMMAND=ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR")
        if let socket = credentials.sshAgentSocket { environment.append("SSH_AUTH_SOCK=" + socket) }
        let full = (directory.map { ["-C", $0] } ?? []) + arguments
        let result: (status: ProcessStatus, stdout: String, stderr: String)
        do { result = try ChildProcess.collect(executable: git, arguments: full, environment: environment) } catch {
            throw GitError("\(address.display): cannot run git: \(error)")
        }
        guard result.status.isSuccess else {
            var reason = result.stderr.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .last { !$0.isEmpty && !$0.hasPrefix("hint:") } ?? "\(result.status)"
            for secret in credentials.secrets { reason = reason.replacingOccurrences(of: secret, with: "***") }
            reason = GitAddress.redacted(reason)
            if address.transport == .http, ["could not read Username", "Authentication failed", "401"].contains(where: reason.contains) {
                reason = credentials.secrets.isEmpty
                    ? "authentication required (give a token: --secret id=GIT_AUTH_TOKEN,env=VAR)"
                    : "authentication failed with the GIT_AUTH_TOKEN/GIT_AUTH_HEADER secret"
            }
            throw GitError("\(address.display): \(doing): \(reason)")
        }
        return result.stdout
    }

    /// mtimes to `time`, modes to 0644/0755 (directories 0755), and `.git` entries removed unless kept.
    static func normalize(_ root: String, time: Int, removeGitDirectories: Bool) throws {
        let manager = FileManager.default
        func visit(_ path: String) throws {
            var info = stat()
            guard lstat(path, &info) == 0 else { throw GitError("cannot read \(path)") }
            let kind = info.st_mode & S_IFMT
            if kind == S_IFDIR {
                for name in try manager.contentsOfDirectory(atPath: path) {
                    let child = path + "/" + name
                    if name == ".git", removeGitDirectories {
                        try manager.removeItem(atPath: child)
                        continue
                    }
                    try visit(child)
                }
                chmod(path, 0o755)
            } else if kind == S_IFREG {
                chmod(path, info.st_mode & 0o100 != 0 ? 0o755 : 0o644)
            }
            var times = [timespec(tv_sec: time, tv_nsec: 0), timespec(tv_sec: time, tv_nsec: 0)]
            utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
        }
        try visit(root)
    }
}
