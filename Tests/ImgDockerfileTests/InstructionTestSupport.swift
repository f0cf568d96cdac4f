import ImgDockerfile

/// Types the single instruction in `text` (parsed by the real parser).
func instruction(_ text: String) throws(DockerfileError) -> Instruction {
    let parsed = try DockerfileParser.parse(text)
    return try Instruction(node: parsed.nodes[parsed.nodes.count - 1])
}

/// Types every instruction of `text` and returns the error it fails with, or nil.
func instructionError(_ text: String) -> DockerfileError? {
    do {
        _ = try Instruction.all(in: try DockerfileParser.parse(text))
        return nil
    } catch {
        return error
    }
}

func planError(_ text: String, options: BuildOptions = BuildOptions()) -> DockerfileError? {
    do {
        _ = try BuildPlanner.plan(text, options: options)
        return nil
    } catch {
        return error
    }
}

let amd64 = BuildPlatform(os: "linux", architecture: "amd64")
let arm64 = BuildPlatform(os: "linux", architecture: "arm64")

extension Instruction {
    var copyCommand: CopyCommand? {
        switch command {
        case .copy(let c), .add(let c): c
        default: nil
        }
    }
    var runCommand: RunCommand? {
        if case .run(let r) = command { return r }
        return nil
    }
}
