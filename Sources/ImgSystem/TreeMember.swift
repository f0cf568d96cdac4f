package import Glibc

/// A file named inside a tree that someone else made: an unpacked archive, an OCI layout directory. Only a
/// regular file reached through real directories counts. A symlink anywhere on the way (`blobs/sha256/x ->
/// /etc/shadow`, or `blobs -> /`) would make img read a host file as root: tell its size in an error, or
/// import it as a blob when its digest matches, which confirms the file's content.
package enum TreeMember {
    /// Why a name is not a member.
    package enum Problem: Error, Sendable, Hashable, CustomStringConvertible {
        /// Absolute, or `..` climbs out.
        case outside(String)
        case missing(String)
        /// Something other than a regular file (or, on the way, a directory) is there.
        case notRegular(String, FileStatus.Kind)
        case unreadable(String, SystemError)

        package var description: String {
            switch self {
            case .outside(let name): "\(name) points outside the archive"
            case .missing(let name): "\(name) is missing"
            case .notRegular(let name, let kind): "\(name) is a \(kind.described), not a regular file"
            case .unreadable(let name, let error): "\(name) cannot be read: \(error)"
            }
        }
    }

    /// `root + "/" + relative` when every component of `relative` but the last is a directory and the last a
    /// regular file, none of them a symlink.
    package static func regularFile(_ relative: String, in root: String) throws(Problem) -> String {
        let parts = relative.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }.map(String.init)
        guard !relative.hasPrefix("/"), !parts.isEmpty, !parts.contains("..") else { throw .outside(relative) }
        var directory = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { throw .unreadable(relative, .errno("open \(root)")) }
        defer { close(directory) }
        for (index, part) in parts.enumerated() {
            let shown = parts[...index].joined(separator: "/")
            let status: FileStatus?
            do { status = try FileStatus.at(directory, part) } catch { throw .unreadable(shown, error) }
            guard let status else { throw .missing(shown) }
            if index == parts.count - 1 {
                guard status.kind == .regular else { throw .notRegular(shown, status.kind) }
                break
            }
            guard status.kind == .directory else { throw .notRegular(shown, status.kind) }
            let next = openat(directory, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard next >= 0 else { throw .unreadable(shown, .errno("open \(shown)")) }
            close(directory)
            directory = next
        }
        return root + "/" + parts.joined(separator: "/")
    }
}

extension FileStatus.Kind {
    /// For messages: "symlink", "character device".
    package var described: String {
        switch self {
        case .regular: "regular file"
        case .directory: "directory"
        case .symlink: "symlink"
        case .characterDevice: "character device"
        case .blockDevice: "block device"
        case .fifo: "FIFO"
        case .socket: "socket"
        }
    }
}
