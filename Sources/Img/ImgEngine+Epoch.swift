import Foundation
import Glibc
import ImgContext
import ImgSystem
import ImgWorker

/// Where a build's `SOURCE_DATE_EPOCH` comes from: a number of seconds, or `context` (`--reproducible`):
/// the commit time of the context's git commit, else the newest file the context sends.
package enum EpochSource: Sendable, Hashable {
    case seconds(Int64)
    case context

    /// `SOURCE_DATE_EPOCH` text: seconds since 1970 or `context`; `name` says where it came from in errors.
    package init(parsing value: String, from name: String) throws {
        let text = value.trimmingCharacters(in: .whitespaces)
        if text == "context" {
            self = .context
        } else if let seconds = Int64(text), seconds >= 0 {
            self = .seconds(seconds)
        } else {
            throw RequestError("\(name)=\(value): expected seconds since 1970 or \"context\"")
        }
    }

    /// What a build asks for: an explicit value wins over `--reproducible`; an empty variable is unset.
    package static func requested(reproducible: Bool, environment: [String: String]) throws -> EpochSource? {
        if let value = environment["SOURCE_DATE_EPOCH"], !value.isEmpty {
            return try EpochSource(parsing: value, from: "SOURCE_DATE_EPOCH")
        }
        return reproducible ? .context : nil
    }
}

extension BuildRun {
    /// The build's epoch in seconds, or nil without one. `--build-arg SOURCE_DATE_EPOCH=` wins over the
    /// request (BuildKit takes its epoch from that build arg); `context` is resolved against the context:
    /// `gitCommit` (a cloned git context's commit and time), the work tree the directory is in, or the newest
    /// file of `tree` after `.dockerignore`.
    func resolvedEpoch(tree: SourceTree, gitCommit: (id: String, time: Int64)?, progress: any BuildProgress) throws -> Int64? {
        var source = command.epoch
        if let value = try BuildArguments.parse(command.buildArgs)["SOURCE_DATE_EPOCH"] {
            source = try EpochSource(parsing: value, from: "--build-arg SOURCE_DATE_EPOCH")
        }
        guard let source else { return nil }
        let seconds: Int64
        let origin: String
        switch source {
        case .seconds(let value):
            seconds = value
            origin = "as given"
        case .context:
            if let gitCommit {
                (seconds, origin) = (gitCommit.time, "from git commit \(gitCommit.id.prefix(12))")
            } else if command.context != "-", let (commit, time) = Self.workTreeCommit(tree.root) {
                (seconds, origin) = (time, "from git commit \(commit.prefix(12))")
            } else {
                guard let (newest, path) = try Self.newestFile(tree) else {
                    throw RequestError("--reproducible: the context has no file to take SOURCE_DATE_EPOCH from; set SOURCE_DATE_EPOCH=SECONDS")
                }
                (seconds, origin) = (newest, "from the newest context file, \(path)")
            }
        }
        progress.message("SOURCE_DATE_EPOCH=\(seconds) (\(origin))")
        return seconds
    }

    /// The commit checked out in the work tree holding `directory` (its id and committer time), or nil when
    /// it is in none (or git is missing, or the repository has no commit yet).
    static func workTreeCommit(_ directory: String) -> (String, Int64)? {
        guard let git = ExecutableLookup.find("git") else { return nil }
        let inherited = ProcessInfo.processInfo.environment
        var environment = ["GIT_CONFIG_NOSYSTEM=1", "LC_ALL=C", "GIT_TERMINAL_PROMPT=0",
                           "PATH=" + (inherited["PATH"] ?? "/usr/bin:/bin")]
        if let home = inherited["HOME"] { environment.append("HOME=" + home) }
        // Read only: a repository owned by another user (root building a user's checkout) is still read.
        let arguments = ["-c", "safe.directory=*", "-C", directory, "log", "-1", "--format=%H %ct"]
        guard let result = try? ChildProcess.collect(executable: git, arguments: arguments, environment: environment),
              result.status.isSuccess
        else { return nil }
        let fields = result.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard fields.count == 2, let time = Int64(fields[1]) else { return nil }
        return (fields[0], time)
    }

    /// The newest mtime (seconds) among the files and links of the context that `.dockerignore` keeps, and
    /// that file's path. Directories are left out: their times change with what is added or removed, not
    /// with what is copied.
    static func newestFile(_ tree: SourceTree) throws -> (Int64, String)? {
        var newest: (Int64, String)?
        for entry in try ContextWalker(root: tree.root, matcher: tree.ignore).walk() where entry.kind != .directory {
            var info = stat()
            guard lstat(tree.root + "/" + entry.path, &info) == 0 else { continue }
            let seconds = Int64(info.st_mtim.tv_sec)
            if newest == nil || seconds > newest!.0 { newest = (seconds, entry.path) }
        }
        return newest
    }
}
