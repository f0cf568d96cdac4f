// TestFailure.swift owns `TestFailure`, a test's own set-up going wrong, and the host programs that must succeed and throw it (`run`, `host`, `skopeo`).
import Foundation
import ImgRegistry
import ImgSystem

/// A test's own set-up went wrong (a helper failed, a file is not what it should be).
package struct TestFailure: Error, CustomStringConvertible {
    package var description: String
    package init(_ d: String) { description = d }
}

/// Runs a program to completion; throws with its output when it fails. stderr is folded into the result.
@discardableResult
package func run(_ program: String, _ arguments: [String], environment: [String: String]? = nil,
                 input: String? = nil) throws -> String {
    let result = try HelperProcess.run(program, arguments, input: Array((input ?? "").utf8), environment: environment)
    let text = String(decoding: result.stdout, as: UTF8.self)
    guard result.status == 0 else {
        throw TestFailure("\(program) \(arguments.joined(separator: " ")) failed (\(result.status)): \(text)"
            + String(decoding: result.stderr, as: UTF8.self))
    }
    return text
}

/// Runs a host command that must succeed; returns its stdout.
@discardableResult
package func host(_ executable: String, _ arguments: String...) throws -> String {
    let result = try ChildProcess.collect(executable: executable, arguments: arguments)
    guard result.status.isSuccess else {
        throw TestFailure("\(executable) \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stderr)")
    }
    return result.stdout
}

/// `skopeo` with its policy check off (the tests have no signatures) and plain-HTTP registries.
@discardableResult
package func skopeo(_ arguments: [String]) throws -> String {
    try run("skopeo", ["--insecure-policy"] + arguments)
}
