import Foundation
import Glibc
import ImgArchive
import ImgOCI
import ImgSystem
import Testing
import ImgTestSupport


/// Builds file trees for tests with raw syscalls (exact modes, owners, times).
struct TreeBuilder {
    let root: String
    func p(_ rel: String) -> String { root + "/" + rel }

    @discardableResult
    func file(_ rel: String, _ text: String = "", mode: mode_t = 0o644, uid: uid_t = 0, gid: gid_t = 0,
              mtime: Int = 1_700_000_000, nsec: Int = 0) -> String {
        let path = p(rel)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0, "create \(path): \(errno)")
        _ = text.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
        lchown(path, uid, gid)
        chmod(path, mode)
        times(rel, mtime, nsec)
        return path
    }

    func dir(_ rel: String, mode: mode_t = 0o755, uid: uid_t = 0, gid: gid_t = 0, mtime: Int = 1_700_000_000) {
        let path = p(rel)
        mkdir(path, 0o755)
        lchown(path, uid, gid)
        chmod(path, mode)
        times(rel, mtime, 0)
    }

    func symlink(_ rel: String, to target: String, mtime: Int = 1_700_000_000) {
        Glibc.symlink(target, p(rel))
        times(rel, mtime, 0)
    }

    func hardlink(_ rel: String, to existing: String) { link(p(existing), p(rel)) }

    func times(_ rel: String, _ mtime: Int, _ nsec: Int) {
        var ts = [timespec(tv_sec: mtime, tv_nsec: nsec), timespec(tv_sec: mtime, tv_nsec: nsec)]
        utimensat(AT_FDCWD, p(rel), &ts, AT_SYMLINK_NOFOLLOW)
    }

    func xattr(_ rel: String, _ name: String, _ value: String) {
        let fd = open(root, OpenFlags.path | O_DIRECTORY)
        defer { close(fd) }
        do { try ExtendedAttributes.set(at: fd, rel, attribute: name, value: Array(value.utf8)) } catch {
            preconditionFailure("setxattr \(name) on \(rel): \(error)")
        }
    }

    func exists(_ rel: String) -> Bool {
        var st = stat()
        return lstat(p(rel), &st) == 0
    }

    func status(_ rel: String) -> FileStatus? {
        var st = stat()
        return lstat(p(rel), &st) == 0 ? FileStatus(st) : nil
    }

    func read(_ rel: String) -> String? { try? String(contentsOfFile: p(rel), encoding: .utf8) }
    func xattrValue(_ rel: String, _ name: String) -> String? {
        let fd = open(root, OpenFlags.path | O_DIRECTORY)
        defer { close(fd) }
        guard let bytes = try? ExtendedAttributes.value(at: fd, rel.isEmpty ? "." : rel, attribute: name) else {
            return nil
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Everything `lstat` and friends say about each path of a tree, for comparing trees.
func snapshot(_ root: String, includeTimes: Bool = true) throws -> [String: String] {
    var result: [String: String] = [:]
    var inodes: [UInt64: String] = [:]
    func walk(_ rel: String) throws {
        let full = rel.isEmpty ? root : root + "/" + rel
        var st = stat()
        guard lstat(full, &st) == 0 else { throw SystemError.errno("lstat \(full)") }
        let s = FileStatus(st)
        var line = "\(s.kind.rawValue) \(String(s.permissions, radix: 8)) \(s.uid):\(s.gid)"
        if includeTimes && s.kind != .symlink { line += " t=\(s.modificationTime)" }
        let parent = open((full as NSString).deletingLastPathComponent, OpenFlags.path | O_DIRECTORY)
        defer { close(parent) }
        let name = (full as NSString).lastPathComponent
        let attrs = try ExtendedAttributes.all(at: parent, name).filter { !$0.key.hasPrefix("security.") }
        if !attrs.isEmpty {
            line += " xattrs=" + attrs.keys.sorted().map { "\($0)=\(String(decoding: attrs[$0]!, as: UTF8.self))" }.joined(separator: ",")
        }
        switch s.kind {
        case .regular:
            let data = try Data(contentsOf: URL(fileURLWithPath: full))
            line += " size=\(s.size) sha=\(Digest.sha256(of: data).short)"
            if s.linkCount > 1 {
                if let first = inodes[s.inode] { line += " link=\(first)" } else { inodes[s.inode] = rel }
            }
        case .symlink: line += " -> \(RootedDirectory.readLink(parent, name) ?? "?")"
        case .characterDevice, .blockDevice: line += " dev=\(s.deviceMajor):\(s.deviceMinor)"
        case .directory:
            for child in try DirectoryEntries.names(in: AT_FDCWD, full) { try walk(rel.isEmpty ? child : rel + "/" + child) }
        default: break
        }
        result[rel.isEmpty ? "." : rel] = line
    }
    try walk("")
    return result
}

/// Tar entries of an archive, in order, for entry-by-entry checks.
func entries(ofTar path: String) throws -> [TarEntry] {
    let reader = try TarReader(path: path)
    var result: [TarEntry] = []
    while let e = try reader.next() { result.append(e) }
    return result
}

func entries(ofTar bytes: [UInt8]) throws -> [TarEntry] {
    let reader = try TarReader(source: MemorySource(bytes))
    var result: [TarEntry] = []
    while let e = try reader.next() { result.append(e) }
    return result
}

/// Runs a program, returning its exit status and standard output.
@discardableResult
func run(_ arguments: [String], in directory: String? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

func sha256sum(_ path: String) throws -> String {
    try run(["sha256sum", path]).output.split(separator: " ").first.map { "sha256:" + $0 } ?? ""
}

/// A directory listing (names and types) of a directory, to prove nothing appeared outside a root.
/// Symlinks are listed, never followed.
func listing(_ path: String, excluding excluded: String? = nil) throws -> [String] {
    var result: [String] = []
    func walk(_ rel: String) throws {
        let full = rel.isEmpty ? path : path + "/" + rel
        for name in try DirectoryEntries.names(in: AT_FDCWD, full) {
            let child = rel.isEmpty ? name : rel + "/" + name
            if child == excluded { continue }
            var st = stat()
            lstat(full + "/" + name, &st)
            result.append(child)
            if st.st_mode & S_IFMT == S_IFDIR { try walk(child) }
        }
    }
    try walk("")
    return result
}
