import Foundation
import Glibc
@testable import ImgSBOM
import ImgSystem
import ImgTestSupport

/// A root filesystem a test writes file by file, then scans.
final class SBOMFixture {
    let directory: TemporaryDirectory
    var root: String { directory.path }

    init() throws { directory = try TemporaryDirectory("img-sbom") }

    /// Writes `text` at `path` inside the root, making its directories.
    func write(_ path: String, _ text: String) throws {
        try directory.write(String(path.drop { $0 == "/" }), text)
    }

    func write(_ path: String, bytes: [UInt8]) throws {
        let url = directory.url.appending(path: String(path.drop { $0 == "/" }))
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    /// A symlink at `path` inside the root pointing at `target` (taken as is: it may point anywhere).
    func symlink(_ path: String, to target: String) throws {
        let url = directory.url.appending(path: String(path.drop { $0 == "/" }))
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: url.path, withDestinationPath: target)
    }

    func scan() throws -> [SBOMPackage] { try SBOMScanner.scan(root: root) }

    /// The SHA-256 of a file as `sha256sum` prints it, computed by coreutils rather than by the code under test.
    static func sha256sum(_ path: String) throws -> String {
        String(try runTool(Prerequisite.sha256sum.require(), [path]).split(separator: " ").first ?? "")
    }
}

extension [SBOMPackage] {
    func named(_ name: String) -> SBOMPackage? { first { $0.name == name } }
}

/// Runs a helper program and returns its standard output, failing on a non-zero exit.
func runTool(_ executable: String, _ arguments: [String]) throws -> String {
    let result = try ChildProcess.collect(executable: executable, arguments: arguments)
    guard result.status.isSuccess else {
        throw TestFailure("\(executable) \(arguments.joined(separator: " ")): \(result.status): \(result.stderr)")
    }
    return result.stdout
}

extension Prerequisite {
    /// The real-data test asks the host's dpkg what it has installed.
    static let dpkgQuery = tool("dpkg-query", package: "dpkg")
    static let sha1sum = tool("sha1sum", package: "coreutils")
    /// Debian's python3-jsonschema validates the documents against the schema subset.
    static let jsonschema = pythonModule("jsonschema", package: "python3-jsonschema")
}
