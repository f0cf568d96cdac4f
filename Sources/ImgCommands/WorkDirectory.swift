import Foundation
import ImgContent

/// A scratch directory inside the state directory (same file system as the blobs), removed when done, also
/// on error. A `kill -9` leaves it under `<state>/tmp`, which the next `img prune` clears.
struct WorkDirectory {
    let path: String

    static func with<T>(_ state: StateDirectory, _ prefix: String, _ body: (WorkDirectory) async throws -> T) async throws -> T {
        let base = state.layout.root + "/tmp"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let dir = WorkDirectory(path: base + "/\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir.path) }
        return try await body(dir)
    }

    func file(_ relative: String) -> String { path + "/" + relative }
}
