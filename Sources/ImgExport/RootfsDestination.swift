import Foundation
import Glibc
import ImgSystem

/// A directory that receives an image's filesystem (`img unpack -o DIR`, `img build -o type=local,dest=DIR`).
///
/// The tree holds the image's device nodes and setuid files with the image's modes and owners. As real
/// root those are real: a `c 1 11` node of mode 0666 would let any local user write to the kernel log. So,
/// as umoci does, a directory img creates is mode 0700 when img runs as root (only root reaches what is
/// inside); a directory that already existed keeps its mode, and `-d` says so.
package struct RootfsDestination: Sendable {
    package let path: String
    /// True when img made the directory (and may remove it again when the export fails).
    package let created: Bool

    /// Creates `path` (and its parents) unless it exists.
    /// `debug` hears what a `-d` user should know.
    package static func prepare(_ path: String, debug: (String) -> Void) throws -> RootfsDestination {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw ExportError(.writeFailed, "cannot write files to \(path): it exists and is not a directory") }
            debug("writing the filesystem into the existing directory \(path); its mode is kept (the image's device nodes and setuid files are reachable as far as it allows)")
            return RootfsDestination(path: path, created: false)
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return RootfsDestination(path: path, created: true)
    }

    /// After the copy (which gives the directory the image root's mode): 0700 for a directory img created as
    /// root.
    package func seal() throws {
        guard created, UserNamespace.state == .privileged else { return }
        guard chmod(path, 0o700) == 0 else { throw ExportError(.writeFailed, "cannot chmod \(path): \(String(cString: strerror(errno)))") }
    }

    /// Removes what a failed export left, if img made the directory; else leaves the caller's directory be.
    package func discard() {
        if created { try? FileManager.default.removeItem(atPath: path) }
    }
}
