import Glibc
import ImgSystem

/// Finds what changed between two directory trees (the native snapshotter's view), or reads the changes
/// an overlayfs upper directory records. Changes come out in layer order: depth first, each directory's
/// names sorted by their UTF-8 bytes, an opaque marker first among its directory's children, and every
/// changed path preceded by its parent directories.
package enum LayerDiff {
    /// When two regular files with equal metadata have their content compared.
    package enum ContentComparison: Sendable, Hashable {
        /// Only when the modification times have no sub-second part (a tar or `cp` may have truncated
        /// them, so equal times prove nothing).
        case whenUncertain
        /// Always (slow: reads both files).
        case always
        /// Never: metadata alone decides.
        case never
    }

    /// The changes that turn `lower` (nil: an empty tree) into `upper`.
    package static func changes(lower: String?, upper: String,
                                content: ContentComparison = .whenUncertain) throws(ArchiveError) -> [LayerChange] {
        let upperFD = try openTree(upper)
        defer { close(upperFD) }
        var lowerFD: Int32?
        if let lower { lowerFD = try openTree(lower) }
        defer { if let lowerFD { close(lowerFD) } }
        var walker = NativeWalker(content: content, label: upper)
        return try walker.directory([], lower: lowerFD, upper: upperFD)
    }

    /// The changes an overlayfs upper directory holds: 0/0 character devices (and the kernel's xattr
    /// whiteouts) become deletions, `overlay.opaque=y` directories become opaque markers, and overlay's own
    /// xattrs are dropped. fuse-overlayfs's forms are read too: `.wh.NAME` files (where it could not make a
    /// device), `.wh..wh..opq` files and its `user.fuseoverlayfs.opaque` xattr.
    ///
    /// `lowers`, when given, are the mount's lower directories: an opaque marker on a directory none of
    /// them has anything at is dropped (it hides nothing; fuse-overlayfs marks every new directory so).
    package static func overlayChanges(upper: String, lowers: [String] = []) throws(ArchiveError) -> [LayerChange] {
        let upperFD = try openTree(upper)
        defer { close(upperFD) }
        return try OverlayWalker(label: upper, lowers: lowers).directory([], upperFD)
    }

    static func openTree(_ path: String) throws(ArchiveError) -> Int32 {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiveError(.io, "cannot open the directory", archive: path, cause: .errno("open \(path)")) }
        return fd
    }

    static func join(_ components: [String], _ name: String) -> String {
        components.isEmpty ? name : components.joined(separator: "/") + "/" + name
    }

    static func openChild(_ parent: Int32, _ name: String, _ path: String, label: String) throws(ArchiveError) -> Int32 {
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiveError(.io, "cannot open the directory", archive: label, entry: path, cause: .errno("open")) }
        return fd
    }

    static func byBytes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    /// Reads what a change needs besides `lstat`: xattrs and the symlink target.
    static func describe(_ parent: Int32, _ name: String, _ path: String, label: String) throws(ArchiveError) -> (FileStatus, [String: [UInt8]], String?) {
        do {
            guard let status = try FileStatus.at(parent, name) else {
                throw ArchiveError(.io, "vanished while being compared", archive: label, entry: path)
            }
            let xattrs = try ExtendedAttributes.all(at: parent, name)
            var target: String?
            if status.kind == .symlink {
                guard let t = RootedDirectory.readLink(parent, name) else { throw SystemError.errno("readlink") }
                target = t
            }
            return (status, xattrs, target)
        } catch let error as SystemError {
            throw ArchiveError(.io, "cannot inspect", archive: label, entry: path, cause: error)
        } catch let error as ArchiveError {
            throw error
        } catch {
            throw ArchiveError(.io, "\(error)", archive: label, entry: path)
        }
    }
}

struct NativeWalker {
    let content: LayerDiff.ContentComparison
    let label: String

    mutating func directory(_ components: [String], lower: Int32?, upper: Int32) throws(ArchiveError) -> [LayerChange] {
        let here = components.joined(separator: "/")
        let upperNames: [String]
        let lowerNames: [String]
        do {
            upperNames = try DirectoryEntries.names(in: upper)
            lowerNames = try lower.map { (fd) throws(SystemError) in try DirectoryEntries.names(in: fd) } ?? []
        } catch { throw ArchiveError(.io, "cannot list the directory", archive: label, entry: here, cause: error) }
        let upperSet = Set(upperNames), lowerSet = Set(lowerNames)
        var groups: [(key: String, changes: [LayerChange])] = []
        for name in lowerNames where !upperSet.contains(name) {
            groups.append((Whiteout.name(for: name), [LayerChange(path: LayerDiff.join(components, name), kind: .deleted)]))
        }
        for name in upperNames {
            let path = LayerDiff.join(components, name)
            let (status, xattrs, target) = try LayerDiff.describe(upper, name, path, label: label)
            if status.kind == .socket { continue }  // tar cannot hold sockets
            var kind: LayerChange.Kind?
            var lowerIsDirectory = false
            if let lower, lowerSet.contains(name) {
                let (lowerStatus, lowerXattrs, lowerTarget) = try LayerDiff.describe(lower, name, path, label: label)
                lowerIsDirectory = lowerStatus.kind == .directory
                if try differs(lowerStatus, lowerXattrs, lowerTarget, status, xattrs, target, lower, upper, name, path) {
                    kind = .modified
                }
            } else {
                kind = .added
            }
            var group: [LayerChange] = []
            if status.kind == .directory {
                let upperChild = try LayerDiff.openChild(upper, name, path, label: label)
                defer { close(upperChild) }
                var lowerChild: Int32?
                if let lower, lowerIsDirectory { lowerChild = try LayerDiff.openChild(lower, name, path, label: label) }
                defer { if let lowerChild { close(lowerChild) } }
                let children = try directory(components + [name], lower: lowerChild, upper: upperChild)
                if kind == nil && !children.isEmpty { kind = .parent }
                if let kind { group = [LayerChange(path: path, kind: kind, status: status, xattrs: xattrs)] + children }
            } else if let kind {
                group = [LayerChange(path: path, kind: kind, status: status, xattrs: xattrs, linkTarget: target)]
            }
            if !group.isEmpty { groups.append((name, group)) }
        }
        return groups.sorted { LayerDiff.byBytes($0.key, $1.key) }.flatMap(\.changes)
    }

    private func differs(_ a: FileStatus, _ aXattrs: [String: [UInt8]], _ aTarget: String?,
                         _ b: FileStatus, _ bXattrs: [String: [UInt8]], _ bTarget: String?,
                         _ lower: Int32, _ upper: Int32, _ name: String, _ path: String) throws(ArchiveError) -> Bool {
        if a.kind != b.kind || a.permissions != b.permissions || a.uid != b.uid || a.gid != b.gid || aXattrs != bXattrs {
            return true
        }
        switch b.kind {
        case .symlink: return aTarget != bTarget || a.modificationTime != b.modificationTime
        case .characterDevice, .blockDevice:
            return a.deviceMajor != b.deviceMajor || a.deviceMinor != b.deviceMinor || a.modificationTime != b.modificationTime
        case .regular:
            if a.size != b.size || a.modificationTime != b.modificationTime { return true }
            switch content {
            case .never: return false
            case .whenUncertain where b.modificationTime.nanoseconds != 0: return false
            default: return try !sameContent(lower, upper, name, path)
            }
        default: return a.modificationTime != b.modificationTime
        }
    }

    private func sameContent(_ lower: Int32, _ upper: Int32, _ name: String, _ path: String) throws(ArchiveError) -> Bool {
        let a = openat(lower, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard a >= 0 else { throw ArchiveError(.io, "cannot open", archive: label, entry: path, cause: .errno("open")) }
        defer { close(a) }
        let b = openat(upper, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard b >= 0 else { throw ArchiveError(.io, "cannot open", archive: label, entry: path, cause: .errno("open")) }
        defer { close(b) }
        let size = 1 << 16
        var x = [UInt8](repeating: 0, count: size), y = [UInt8](repeating: 0, count: size)
        while true {
            let n = try readFully(a, &x, path), m = try readFully(b, &y, path)
            if n != m || x[0..<n] != y[0..<m] { return false }
            if n < size { return true }
        }
    }

    private func readFully(_ fd: Int32, _ buffer: inout [UInt8], _ path: String) throws(ArchiveError) -> Int {
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ArchiveError(.io, "cannot read", archive: label, entry: path, cause: .errno("read"))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }
}

struct OverlayWalker {
    let label: String
    var lowers: [String] = []

    /// Whether an opaque marker at `path` can hide anything.
    func hidesSomething(_ path: String) -> Bool {
        guard !lowers.isEmpty else { return true }
        var info = stat()
        return lowers.contains { fstatat(AT_FDCWD, $0 + "/" + path, &info, AT_SYMLINK_NOFOLLOW) == 0 }
    }
    static let xattrPrefixes = ["trusted.overlay.", "user.overlay.", "user.fuseoverlayfs."]

    func directory(_ components: [String], _ upper: Int32) throws(ArchiveError) -> [LayerChange] {
        let names: [String]
        do { names = try DirectoryEntries.names(in: upper) } catch {
            throw ArchiveError(.io, "cannot list the directory", archive: label, entry: components.joined(separator: "/"), cause: error)
        }
        var groups: [(key: String, changes: [LayerChange])] = []
        for name in names {
            let path = LayerDiff.join(components, name)
            let (status, allXattrs, target) = try LayerDiff.describe(upper, name, path, label: label)
            let xattrs = allXattrs.filter { key, _ in !Self.xattrPrefixes.contains { key.hasPrefix($0) } }
            switch status.kind {
            case .socket: continue
            case _ where name.hasPrefix(Whiteout.prefix):
                // fuse-overlayfs marks an opaque directory with a `.wh..wh..opq` file (read with the directory,
                // below) and hides that name with a `.wh..opq` device; a regular `.wh.NAME` is its whiteout.
                if status.kind == .regular && name != Whiteout.opaque {
                    let target = String(name.dropFirst(Whiteout.prefix.count))
                    groups.append((name, [LayerChange(path: LayerDiff.join(components, target), kind: .deleted)]))
                }
            case .characterDevice where status.deviceMajor == 0 && status.deviceMinor == 0:
                groups.append((Whiteout.name(for: name), [LayerChange(path: path, kind: .deleted)]))
            case .regular where status.size == 0 && Self.xattrPrefixes.contains(where: { allXattrs[$0 + "whiteout"] != nil }):
                groups.append((Whiteout.name(for: name), [LayerChange(path: path, kind: .deleted)]))
            case .directory:
                let child = try LayerDiff.openChild(upper, name, path, label: label)
                defer { close(child) }
                let opaque = Self.xattrPrefixes.contains { allXattrs[$0 + "opaque"] == Array("y".utf8) }
                    || faccessat(child, Whiteout.opaque, F_OK, AT_SYMLINK_NOFOLLOW) == 0
                let hides = opaque && hidesSomething(path)
                var group = [LayerChange(path: path, kind: .modified, status: status, xattrs: xattrs)]
                if hides { group.append(LayerChange(path: path, kind: .opaque)) }
                group += try directory(components + [name], child)
                groups.append((name, group))
            default:
                groups.append((name, [LayerChange(path: path, kind: .modified, status: status, xattrs: xattrs, linkTarget: target)]))
            }
        }
        return groups.sorted { LayerDiff.byBytes($0.key, $1.key) }.flatMap(\.changes)
    }
}
