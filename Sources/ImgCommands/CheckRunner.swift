import Img
import ImgDockerfile

/// Runs `img build --check`: findings to stdout as `FILE:LINE: warning: Rule: message`, then BuildKit's
/// closing line. Parse and stage errors are thrown to the caller.
struct CheckRunner {
    let log: CommandLog

    struct Outcome { var failed: Bool }

    func run(source: DockerfileSource, target: String?, buildArgs: [String: String], platform: String?) throws -> Outcome {
        var targetPlatform: BuildPlatform?
        if let platform {
            guard let parsed = BuildPlatform(parsing: platform) else {
                throw CommandError("invalid --platform \"\(platform)\": expected os/arch[/variant]")
            }
            targetPlatform = parsed
        }
        let report = try DockerfileCheck.run(
            source.bytes, file: source.displayName, target: target, buildArgs: buildArgs,
            targetPlatform: targetPlatform)
        for stage in report.stages {
            log.debug("stage \(stage.name): \(stage.isReachable ? "needed for the target" : "not needed, skipped")")
        }
        if !report.unusedBuildArgs.isEmpty {
            StandardError.print("warning: build-args [\(report.unusedBuildArgs.joined(separator: ", "))] were not consumed")
        }
        for line in report.lines { print(line) }
        print(report.summary)
        return Outcome(failed: report.hasErrors)
    }
}
