import ImgDockerfile

/// Runs `--check` and prints its findings. (Adapter over ImgDockerfile's check API.)
struct CheckRunner {
    let log: CommandLog

    struct Outcome { var failed: Bool }

    func run(source: DockerfileSource, target: String?, buildArgs: [String: String], platform: String) throws -> Outcome {
        let parsed = try DockerfileParser.parse(source.bytes, file: source.displayName)
        for w in parsed.warnings { print("\(source.displayName):\(w.line): warning: \(w.message)") }
        return Outcome(failed: false)
    }
}
