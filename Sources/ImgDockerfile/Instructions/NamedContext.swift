/// `--build-context NAME=VALUE`, as the planner sees it: what stands in for the stage or image named NAME.
package enum NamedContext: Sendable, Hashable {
    /// An image (`docker-image://REF`, or an `oci-layout://` address the image resolver understands).
    case image(String)
    /// A local directory: the worker knows it by the context's name and copies from it as from the context.
    case directory

    /// The key BuildKit files a name under: the familiar reference without `:latest`, so `alpine`,
    /// `alpine:latest` and `docker.io/library/alpine` are one context (a stage name stays as it is).
    package static func key(_ name: String) -> String {
        var key = name.lowercased()
        for prefix in ["docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"]
        where key.hasPrefix(prefix) {
            key = String(key.dropFirst(prefix.count))
            break
        }
        if key.hasSuffix(":latest"), !key.contains("@") { key.removeLast(":latest".count) }
        return key
    }
}

/// The stage a named context becomes: its image as the base, or (a directory) `COPY . /` onto scratch.
extension Stage {
    static func namedContext(_ name: String, _ context: NamedContext, index: Int, line: Int,
                             file: String) throws(DockerfileError) -> Stage {
        let text = context == .directory ? "FROM scratch\nCOPY . /\n" : "FROM scratch\n"
        var instructions = try Instruction.all(in: try DockerfileParser.parse(text, file: file), file: file)
        // Messages about it point at the line that first names it.
        for position in instructions.indices {
            instructions[position].startLine = line
            instructions[position].endLine = line
        }
        var base = StageBase.scratch
        if case .image(let reference) = context { base = .image(reference) }
        return Stage(
            index: index, name: name, nameAsWritten: name, base: base, platform: nil, from: instructions[0],
            instructions: Array(instructions.dropFirst()), dependencies: [], externalImages: [], environment: [],
            args: [], proxyArgs: [], isReachable: false, startLine: line, endLine: line, namedContext: name)
    }
}
