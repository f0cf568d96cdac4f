// TemporaryDirectory.swift owns the directories tests make under /tmp and removing them without crossing mounts.
package import Foundation
import Glibc
import ImgSystem

/// A fresh directory under /tmp, removed (never crossing into a mount below it) by `remove()` or when the
/// last reference goes.
package final class TemporaryDirectory: Sendable {
    package let path: String
    package var url: URL { URL(filePath: path, directoryHint: .isDirectory) }

    package init(_ prefix: String = "img-test") throws { path = try makeTemporaryDirectory(prefix) }

    deinit { remove() }

    /// The path of `name` inside.
    package func file(_ name: String) -> String { path + "/" + name }
    package subscript(_ name: String) -> String { file(name) }

    /// A new empty directory `name` inside (mode 0755).
    @discardableResult
    package func directory(_ name: String) -> String {
        let made = file(name)
        mkdir(made, 0o755)
        return made
    }

    /// Writes `text` to `relative`, making its parents.
    package func write(_ relative: String, _ text: String) throws {
        let target = url.appending(path: relative)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: target)
    }

    package func remove() { removeTree(path) }
}

/// A fresh directory under /tmp that the caller removes (`removeTree`).
package func makeTemporaryDirectory(_ prefix: String) throws -> String {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
        throw SystemError.errno("mkdtemp")
    }
    return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// `rm -rf --one-file-system PATH`: what a test made, never what is mounted below it.
package func removeTree(_ path: String) {
    guard access(path, F_OK) == 0 else { return }
    _ = try? ChildProcess.collect(executable: "/bin/rm", arguments: ["-rf", "--one-file-system", path])
}
