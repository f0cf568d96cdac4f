import Foundation
import Glibc
import Testing
import ImgTestSupport

/// A build context with Debian's static busybox in it, a state directory, and `img build` through the real
/// binary. Images are made `FROM scratch` + busybox, so nothing is pulled. A suite or test using it says
/// `.needs(.busybox, .runc)`.
final class BuildFixture {
    let dir: TemporaryDirectory
    let context: URL
    let state: String

    init() throws {
        try Prerequisite.require(.busybox, .runc)
        dir = try TemporaryDirectory()
        context = dir.url.appending(path: "context")
        state = dir.url.appending(path: "state").path
        try FileManager.default.createDirectory(at: context, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: context.appending(path: "busybox").path)
    }

    /// Writes a context file.
    func write(_ relative: String, _ text: String) throws {
        let file = context.appending(path: relative)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: file)
    }

    /// `img -s STATE [global...] build ARGS... CONTEXT` (context last unless `contextPath` is nil).
    @discardableResult
    func build(_ arguments: [String], global: [String] = [], contextPath: String? = nil, stdin: String? = nil,
               environment: [String: String] = [:]) throws -> ImgBinary.Result
    {
        try ImgBinary.run(["-s", state] + global + ["build", "--progress", "plain"] + arguments + [contextPath ?? context.path],
                          stdin: stdin, environment: environment)
    }

    /// Starts `img build ARGS... CONTEXT` in the background and returns once its output shows `text` (a RUN
    /// step that echoes it has started), or the build ended.
    func startBuild(_ arguments: [String], until text: String) throws -> Process {
        try WatchedProcess.start(ImgBinary.url, ["-s", state, "build", "--progress", "plain"] + arguments + [context.path],
                                 until: text).process
    }

    func img(_ arguments: [String]) throws -> ImgBinary.Result {
        try ImgBinary.run(["-s", state] + arguments)
    }

    /// The stored image's config (`img inspect`).
    func config(_ image: String) throws -> [String: Any] {
        let result = try img(["inspect", image])
        guard result.status == 0,
              let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
              let config = json["config"] as? [String: Any]
        else { throw BuildFixtureError("img inspect \(image) failed: \(result.stderr)") }
        return config
    }

    /// The image's filesystem (`img unpack`), as a directory.
    func unpack(_ image: String) throws -> URL {
        let out = dir.url.appending(path: "rootfs-\(UUID().uuidString)")
        let result = try img(["unpack", "-o", out.path, image])
        guard result.status == 0 else { throw BuildFixtureError("img unpack \(image) failed: \(result.stderr)") }
        return out
    }

    /// The `#N [...] TITLE` steps of plain progress whose next status was CACHED, and those that ran.
    static func steps(_ output: String) -> (cached: [String], ran: [String]) { plainProgressSteps(output) }
}

struct BuildFixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
