import Foundation
package import ImgContent
import ImgSystem

/// A scratch directory inside the state directory (same file system as the blobs), removed when done, also
/// on error. It carries the process's owner token: a `kill -9` leaves it under `<state>/tmp`, and the next
/// command to open the state directory removes it.
package struct WorkDirectory: Sendable {
    package let path: String

    package static func with<T>(_ state: StateDirectory, _ prefix: String, _ body: (WorkDirectory) async throws -> T) async throws -> T {
        let base = state.layout.temporaryDirectory
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let dir = WorkDirectory(path: base + "/\(prefix)-\(ProcessOwners.token)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir.path) }
        return try await body(dir)
    }

    package func file(_ relative: String) -> String { path + "/" + relative }

    /// A new directory under this one whose name no other caller gets.
    package func newDirectory(_ prefix: String) throws -> String {
        let directory = file("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        return directory
    }
}
