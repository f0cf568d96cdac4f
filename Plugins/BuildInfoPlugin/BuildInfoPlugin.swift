import Foundation
import PackagePlugin

/// Writes `BuildInfo.swift` with the git commit the binary is built from. A prebuild command runs on every
/// build, so the commit never goes stale; outside a git checkout it records "unknown".
@main
struct BuildInfoPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let out = context.pluginWorkDirectoryURL.appending(path: "generated")
        let file = out.appending(path: "BuildInfo.swift").path
        let root = context.package.directoryURL.path
        let script = """
            commit=$(git -C '\(root)' rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
            dirty=$(git -C '\(root)' status --porcelain --untracked-files=no 2>/dev/null | head -c1)
            [ -n "$dirty" ] && commit="$commit-dirty"
            body="package enum BuildInfo { package static let gitCommit = \\"$commit\\" }"
            mkdir -p '\(out.path)'
            if [ "$(cat '\(file)' 2>/dev/null)" != "$body" ]; then printf '%s\\n' "$body" > '\(file)'; fi
            """
        return [
            .prebuildCommand(
                displayName: "Recording git commit",
                executable: URL(filePath: "/bin/sh"),
                arguments: ["-c", script],
                outputFilesDirectory: out
            )
        ]
    }
}
