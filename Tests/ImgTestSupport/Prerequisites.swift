/// Test support shared by every test target: prerequisites, temporary directories, the `img` binary and
/// the rootless test user. One prerequisite policy: a test that cannot run without something throws
/// `MissingPrerequisite` naming the fix (a failure, never a silent skip); a test that may be skipped outside
/// CI asks `Prerequisite.available(...)` in `.enabled(if:)`, which under `CI=true` always says yes so the
/// test runs and fails naming the package.
package import Foundation
import Glibc
import ImgSystem

/// A prerequisite the tests cannot do without: a failure naming the fix, never a silent skip.
package struct MissingPrerequisite: Error, CustomStringConvertible {
    package var description: String
    package init(description: String) { self.description = description }
}

/// The PATH tools are looked up on, whatever the test runner's own PATH is.
package let standardPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

package enum Prerequisite {
    /// `CI=true`: a missing prerequisite must fail, not skip.
    package static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// For `.enabled(if:)`: whether every tool is installed; always true under CI, where the test then runs
    /// and its `requireTool` fails naming the package. Elsewhere a missing tool is a visible skip.
    package static func available(_ tools: String...) -> Bool {
        isCI || tools.allSatisfy { ExecutableLookup.find($0, searchPath: standardPath) != nil }
    }
}

/// The path of `name`, or a failure naming the Debian package to install.
@discardableResult
package func requireTool(_ name: String, package: String) throws -> String {
    guard let path = ExecutableLookup.find(name, searchPath: standardPath) else {
        throw MissingPrerequisite(description: "\(name) not found: install Debian package \(package)")
    }
    return path
}

package func requireRoot(_ why: String = "these tests set up mounts, users and containers") throws {
    guard geteuid() == 0 else { throw MissingPrerequisite(description: "\(why): run them as root") }
}

/// Runs a host command that must succeed; returns its stdout.
@discardableResult
package func host(_ executable: String, _ arguments: String...) throws -> String {
    let result = try ChildProcess.collect(executable: executable, arguments: arguments)
    guard result.status.isSuccess else {
        throw MissingPrerequisite(description: "\(executable) \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stderr)")
    }
    return result.stdout
}
