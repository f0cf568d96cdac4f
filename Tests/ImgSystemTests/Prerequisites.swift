import Glibc
import ImgSystem
import Testing

/// A prerequisite the tests cannot do without. Missing ones fail the test with the fix (never a silent skip).
struct MissingPrerequisite: Error, CustomStringConvertible {
    var description: String
}

func requireTool(_ name: String, package: String) throws {
    guard ExecutableLookup.find(name, searchPath: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") != nil else {
        throw MissingPrerequisite(description: "\(name) not found: install Debian package \(package)")
    }
}

func requireRoot() throws {
    guard geteuid() == 0 else { throw MissingPrerequisite(description: "these tests set up mounts and users: run them as root") }
}

/// A fresh directory under /tmp; `remove()` deletes it and everything below (never crossing into a mount).
struct TemporaryDirectory {
    let path: String

    init(_ prefix: String) throws {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw SystemError.errno("mkdtemp")
        }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func remove() {
        _ = try? ChildProcess.collect(executable: "/bin/rm", arguments: ["-rf", "--one-file-system", path])
    }
}
