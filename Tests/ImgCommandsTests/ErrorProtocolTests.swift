import Foundation
import ImgArchive
import ImgContent
import ImgContext
import ImgDockerfile
import ImgErrors
import ImgOCI
import ImgRegistry
import ImgRuntime
import ImgSnapshot
import ImgSystem
import ImgWorker
import Testing
import ImgTestSupport

/// Every error type adopts `ImgError`: a stable kebab-case code and one line, and the command line prints
/// each of them the same way.
struct ErrorProtocolTests {
    static func isKebabCase(_ code: String) -> Bool {
        code.split(separator: "-", omittingEmptySubsequences: false).allSatisfy { part in
            !part.isEmpty && part.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) }
        }
    }

    @Test func everyCodeIsStableKebabCase() {
        var errors: [any ImgError] = []
        errors += RegistryError.Code.allCases.map { RegistryError($0, "m") }
        errors += ContextError.Code.allCases.map { ContextError($0, "m") }
        errors += SnapshotError.Code.allCases.map { SnapshotError($0, "m") }
        errors += ArchiveError.Code.allCases.map { ArchiveError($0, "m") }
        errors += ContentError.Code.allCases.map { ContentError($0, "m") }
        errors += UserNamespaceError.Code.allCases.map { UserNamespaceError($0, "m") }
        errors += RuntimeError.Code.allCases.map { RuntimeError($0, "m") }
        errors += [
            BuildError("m"), OCIError("digest", "m"), DockerfileError("parse", "m", file: "Dockerfile", line: 3),
            SystemError(operation: "open /x", code: ENOENT), SystemError(operation: "read", code: 200),
            MountError(operation: .mount, target: "/t", kind: "overlay", code: EPERM),
        ]
        for error in errors {
            #expect(Self.isKebabCase(error.errorCode), "\(type(of: error)): \(error.errorCode)")
            #expect(!error.description.contains("\n"), "\(error)")
        }
        #expect(RegistryError(.notFound, "m").errorCode == "not-found")
        #expect(ContextError(.noSources, "m").errorCode == "no-sources")
        #expect(SystemError(operation: "open /x", code: ENOENT).errorCode == "enoent")
        #expect(SystemError(operation: "x", code: 200).errorCode == "errno-200")
    }

    @Test func causesAreChained() {
        let system = SystemError(operation: "write /s/blob", code: ENOSPC)
        let archive = ArchiveError(.io, "cannot write", archive: "a.tar", cause: system)
        let snapshot = SnapshotError(.layer, "applying layer", cause: archive)
        let chain = snapshot.causes
        #expect(chain.count == 3)
        #expect((chain[1] as? ArchiveError) == archive && (chain[2] as? SystemError) == system)
        #expect((MountError(operation: .unmount, target: "/t", kind: "overlay", code: EBUSY).underlyingError as? SystemError)?.code == EBUSY)
    }

    /// Errors of different layers (the Dockerfile parser, the registry client, the content store, a
    /// context copy) reach the user as one `error: ` line each, exit status 1.
    @Test(.needs(.busybox, .runc))
    func theCommandLinePrintsEachKindOnce() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", "FROM scratch\nCOPY missing.txt /\n")
        try f.write("Broken", "FROM scratch\nRUN --mount=type=nope true\n")
        let cases: [(arguments: [String], text: String)] = [
            (["build", "-f", f.context.appending(path: "Broken").path, f.context.path], "Broken:2:"),
            (["build", f.context.path], "missing.txt"),
            (["pull", "127.0.0.1:1/nothing:latest"], "127.0.0.1:1"),
            (["inspect", "nothing-here:latest"], "nothing-here"),
        ]
        for (arguments, text) in cases {
            let run = try ImgBinary.run(["-s", f.state] + arguments)
            #expect(run.status == 1, "\(arguments): \(run.stderr)")
            let errors = run.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") || $0.hasPrefix("Error: ") }
            #expect(errors.count == 1 && errors[0].hasPrefix("error: ") && errors[0].contains(text), "\(arguments): \(run.stderr)")
        }
    }
}
