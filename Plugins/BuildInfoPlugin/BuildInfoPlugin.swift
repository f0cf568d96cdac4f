import Foundation
import PackagePlugin

/// Writes `BuildInfo.swift` with the git commit the binary is built from. A build command whose inputs are
/// git's HEAD, the branch it names, packed refs and the index: it runs again whenever a commit, checkout or
/// `git add` changes them (a prebuild command only ran when SwiftPM re-planned the build, so the commit
/// went stale). Outside a git checkout it records "unknown".
@main
struct BuildInfoPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let out = context.pluginWorkDirectoryURL.appending(path: "generated")
        let file = out.appending(path: "BuildInfo.swift")
        let root = context.package.directoryURL
        let script = """
            commit=$(git -C '\(root.path)' rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
            dirty=$(git -C '\(root.path)' status --porcelain --untracked-files=no 2>/dev/null | head -c1)
            [ -n "$dirty" ] && commit="$commit-dirty"
            body="package enum BuildInfo { package static let gitCommit = \\"$commit\\" }"
            mkdir -p '\(out.path)'
            printf '%s\\n' "$body" > '\(file.path)'
            """
        return [
            .buildCommand(
                displayName: "Recording git commit",
                executable: URL(filePath: "/bin/sh"),
                arguments: ["-c", script],
                inputFiles: Self.gitState(root),
                outputFiles: [file]
            )
        ]
    }

    /// The files a commit, checkout or staging changes, those that exist.
    static func gitState(_ root: URL) -> [URL] {
        let git = root.appending(path: ".git")
        var files = [git.appending(path: "HEAD"), git.appending(path: "index"), git.appending(path: "packed-refs")]
        if let head = try? String(contentsOf: git.appending(path: "HEAD"), encoding: .utf8),
           head.hasPrefix("ref: ") {
            files.append(git.appending(path: head.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        return files.filter { FileManager.default.fileExists(atPath: $0.path) }
    }
}
