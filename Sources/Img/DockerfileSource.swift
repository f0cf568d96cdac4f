import Foundation
import ImgDockerfile

/// The Dockerfile a command works on: its bytes and the name used in messages.
package struct DockerfileSource: Sendable {
    package var bytes: [UInt8]
    /// How the user named it (`examples/hello/Dockerfile`), so `file:line` points somewhere real.
    package var displayName: String

    /// `-f FILE` (relative to the working directory, `-` for stdin) or `CONTEXT/Dockerfile`.
    package static func load(file: String?, context: String) throws -> DockerfileSource {
        if file == "-" {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            return DockerfileSource(bytes: Array(data), displayName: "Dockerfile")
        }
        var isDirectory: ObjCBool = false
        guard context == "-" || FileManager.default.fileExists(atPath: context, isDirectory: &isDirectory),
              context == "-" || isDirectory.boolValue
        else {
            throw RequestError("unable to prepare context: path \"\(context)\" not found or not a directory")
        }
        var path = file ?? (context as NSString).appendingPathComponent("Dockerfile")
        // `img build .` names `Dockerfile`, not `./Dockerfile`, in messages.
        while path.hasPrefix("./") { path.removeFirst(2) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RequestError("failed to read Dockerfile: open \(path): no such file or directory")
        }
        return DockerfileSource(bytes: Array(data), displayName: path)
    }
}

/// `--build-arg` values: `KEY=VALUE`, or `KEY` alone to take the value from the environment (skipped when
/// the environment does not have it, as docker does).
package enum BuildArguments {
    package static func parse(_ raw: [String], environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [String: String] {
        var out: [String: String] = [:]
        for item in raw {
            if let eq = item.firstIndex(of: "=") {
                let key = String(item[..<eq])
                guard !key.isEmpty else { throw RequestError("invalid --build-arg \"\(item)\": empty name") }
                out[key] = String(item[item.index(after: eq)...])
            } else {
                guard !item.isEmpty else { throw RequestError("invalid --build-arg: empty name") }
                if let value = environment[item] { out[item] = value }
            }
        }
        return out
    }
}
