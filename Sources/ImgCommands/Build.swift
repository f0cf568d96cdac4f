import ArgumentParser
import Foundation
import ImgDockerfile

/// `img build`: for now only `--check`, which reads the Dockerfile the way a build would, resolves its
/// stages for the chosen target and reports lint findings without building anything.
struct Build: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a Dockerfile (building images arrives in a later version; use --check).",
        discussion: """
            PATH is the build context directory; the Dockerfile defaults to PATH/Dockerfile. \
            With --check, img parses the Dockerfile, resolves its stages and prints each lint finding as \
            FILE:LINE: warning|error: Rule: message. It exits 1 when the Dockerfile cannot be read or parsed, \
            or when a finding is an error (`# check=error=true`).
            """
    )

    @OptionGroup var global: GlobalOptions
    @ParentCommand var root: ImgCommand

    @Flag(help: "Parse, resolve stages and run lint checks without building.")
    var check = false

    @Option(name: [.short, .customLong("file")], help: ArgumentHelp("Name of the Dockerfile (default: PATH/Dockerfile; - reads stdin).", valueName: "file"))
    var file: String?

    @Option(help: ArgumentHelp("Build stage to target.", valueName: "stage"))
    var target: String?

    @Option(name: .customLong("build-arg"), help: ArgumentHelp("Set a build-time variable (KEY=VALUE, or KEY to take it from the environment).", valueName: "key=value"))
    var buildArgs: [String] = []

    @Option(help: ArgumentHelp("Target platform (default: the host's).", valueName: "os/arch[/variant]"))
    var platform: String?

    @Argument(help: ArgumentHelp("Build context directory.", valueName: "PATH"))
    var context: String

    func validate() throws {
        guard check else {
            throw ValidationError("building images is not available yet; run `img build --check` to check a Dockerfile")
        }
    }

    func run() async throws {
        let options = root.global.merged(with: global)
        let log = CommandLog(debug: options.debug)
        try await reportingErrors {
            let source = try DockerfileSource.load(file: file, context: context)
            let args = try BuildArguments.parse(buildArgs)
            log.debug("checking \(source.displayName) (\(source.bytes.count) bytes), context \(context)")
            let outcome = try CheckRunner(log: log).run(
                source: source, target: target, buildArgs: args,
                platform: platform)
            if outcome.failed { throw ExitCode.failure }
        }
    }
}
