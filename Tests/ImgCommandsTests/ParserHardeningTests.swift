import Foundation
import Testing
import ImgTestSupport

/// Dockerfiles a hostile user wrote to crash the parser (hardening items 5, 6, 8): each is a one-line
/// `FILE:LINE` error and exit 1 from `img build --check`, never a trap or a stack overflow.
@Suite struct ParserHardeningTests {
    static func check(_ dockerfile: String) throws -> ImgBinary.Result {
        let dir = try TemporaryDirectory()
        try Data(dockerfile.utf8).write(to: dir.url.appending(path: "Dockerfile"))
        return try ImgBinary.run(["build", "--check", dir.url.path], cwd: dir.url)
    }

    @Test(arguments: ["--interval", "--timeout", "--start-period", "--start-interval"])
    func healthcheckDurationsThatOverflowAreErrors(flag: String) throws {
        let r = try Self.check("FROM scratch\nHEALTHCHECK \(flag)=9999999999s CMD true\n")
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("Dockerfile:2: duration '9999999999s' for HEALTHCHECK \(flag) is out of range"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
    }

    @Test func deeplyNestedSubstitutionsAreAnError() throws {
        let depth = 7_000
        let word = String(repeating: "${a:-", count: depth) + "x" + String(repeating: "}", count: depth)
        let r = try Self.check("FROM scratch\nARG a\nENV B=\(word)\n")
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("Dockerfile:3: variable substitutions nested more than 64 levels deep"), "\(r.stderr)")
    }

    @Test func expansionBombsAreCappedAtOneMebibyte() throws {
        let lines = ["FROM scratch", "ARG A=xxxxxxxxxxxxxxxx"] + Array(repeating: "ARG A=$A$A", count: 20) + ["ENV X=$A"]
        let r = try Self.check(lines.joined(separator: "\n") + "\n")
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains(": expanded word is longer than 1 MiB (1048576 characters)"), "\(r.stderr)")
        #expect(r.stderr.contains("Dockerfile:19:"), "\(r.stderr)")
    }
}
