/// Test support shared by every test target: prerequisites, temporary directories, the `img` binary and
/// the rootless test user. A test that cannot run without something throws `MissingPrerequisite` naming
/// the fix: a failure, never a silent skip.
import Foundation
import Glibc
import ImgSystem

/// A prerequisite the tests cannot do without: a failure naming the fix, never a silent skip.
package struct MissingPrerequisite: Error, CustomStringConvertible {
    package var description: String
    package init(description: String) { self.description = description }
}

/// The PATH tools are looked up on, whatever the test runner's own PATH is.
package let standardPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

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
