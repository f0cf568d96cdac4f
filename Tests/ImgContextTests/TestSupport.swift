import Foundation
import Glibc
import ImgContext
import Testing
import ImgTestSupport


/// Makes and inspects files below one directory with raw syscalls, so modes, owners and times are exact.
struct Tree {
    let root: String

    func p(_ rel: String) -> String { rel.isEmpty ? root : root + "/" + rel }

    @discardableResult
    func file(_ rel: String, _ text: String = "", mode: mode_t = 0o644, uid: uid_t = 0, gid: gid_t = 0,
              mtime: Int = 1_600_000_000) -> Tree {
        makeParents(rel)
        let path = p(rel)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0, "create \(path): \(errno)")
        _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        lchown(path, uid, gid)
        chmod(path, mode)
        setTime(rel, mtime)
        return self
    }

    @discardableResult
    func dir(_ rel: String, mode: mode_t = 0o755, uid: uid_t = 0, gid: gid_t = 0, mtime: Int = 1_600_000_000) -> Tree {
        makeParents(rel)
        mkdir(p(rel), 0o755)
        lchown(p(rel), uid, gid)
        chmod(p(rel), mode)
        setTime(rel, mtime)
        return self
    }

    @discardableResult
    func symlink(_ rel: String, to target: String) -> Tree {
        makeParents(rel)
        Glibc.symlink(target, p(rel))
        return self
    }

    func makeParents(_ rel: String) {
        var current = root
        for part in rel.split(separator: "/").dropLast() {
            current += "/" + part
            mkdir(current, 0o755)
        }
    }

    func setTime(_ rel: String, _ seconds: Int, nanoseconds: Int = 0) {
        var ts = [timespec(tv_sec: seconds, tv_nsec: nanoseconds), timespec(tv_sec: seconds, tv_nsec: nanoseconds)]
        utimensat(AT_FDCWD, p(rel), &ts, AT_SYMLINK_NOFOLLOW)
    }

    func text(_ rel: String) -> String? {
        guard let data = FileManager.default.contents(atPath: p(rel)) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    func lstatus(_ rel: String) -> stat? {
        var st = stat()
        return lstat(p(rel), &st) == 0 ? st : nil
    }

    func exists(_ rel: String) -> Bool { lstatus(rel) != nil }
    func isDirectory(_ rel: String) -> Bool { lstatus(rel).map { $0.st_mode & S_IFMT == S_IFDIR } ?? false }
    func isSymlink(_ rel: String) -> Bool { lstatus(rel).map { $0.st_mode & S_IFMT == S_IFLNK } ?? false }
    func mode(_ rel: String) -> UInt32? { lstatus(rel).map { UInt32($0.st_mode & 0o7777) } }
    func owner(_ rel: String) -> String? { lstatus(rel).map { "\($0.st_uid):\($0.st_gid)" } }
    func mtime(_ rel: String) -> Int? { lstatus(rel).map { Int($0.st_mtim.tv_sec) } }
    func link(_ rel: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(p(rel), &buffer, buffer.count)
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Every path below the root, sorted, directories marked with a trailing `/`, symlinks as `name -> target`.
    func listing() -> [String] {
        var result: [String] = []
        func walk(_ rel: String) {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: p(rel)) else { return }
            for name in names.sorted() {
                let child = rel.isEmpty ? name : rel + "/" + name
                if isSymlink(child) {
                    result.append("\(child) -> \(link(child) ?? "?")")
                } else if isDirectory(child) {
                    result.append(child + "/")
                    walk(child)
                } else {
                    result.append(child)
                }
            }
        }
        walk("")
        return result
    }
}

/// A build context and an empty rootfs side by side.
struct Fixture {
    let scratch = try! TemporaryDirectory("img-context-test")
    let context: Tree
    let rootfs: Tree

    init() {
        context = Tree(root: scratch.directory("context"))
        rootfs = Tree(root: scratch.directory("rootfs"))
    }

    func tree() throws -> SourceTree { try SourceTree.context(context.root, dockerfilePath: nil) }

    func copy(_ sources: [String], _ destination: String, options: CopyOptions = CopyOptions(),
              excludes: [String] = []) throws {
        let selection = try CopySelection.select(sources, in: try tree(), excludes: excludes, parents: options.parents,
                                                 followRootSymlinks: true)
        try CopyOperation.copy(selection, into: rootfs.root, destination: destination, options: options)
    }

    func selected(_ sources: [String], excludes: [String] = [], parents: Bool = false) throws -> [String] {
        try CopySelection.select(sources, in: try tree(), excludes: excludes, parents: parents, followRootSymlinks: true)
            .roots.flatMap { root in [root.path.isEmpty ? "." : root.path] + root.contents.map { "  " + $0.path } }
    }
}

/// The error a throwing body raised, as a ContextError.
func contextError(_ body: () throws -> Void) -> ContextError? {
    do {
        try body()
        return nil
    } catch let error as ContextError {
        return error
    } catch {
        return nil
    }
}
