import Foundation
import Glibc
import ImgArchive
import ImgOCI
import ImgSnapshot
import ImgSystem
import Testing
import ImgTestSupport

func write(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
    let url = URL(filePath: path)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(text.utf8).write(to: url)
    guard chmod(path, mode) == 0 else { throw SystemError.errno("chmod \(path)") }
}

func read(_ path: String) -> String? {
    (try? Data(contentsOf: URL(filePath: path))).map { String(decoding: $0, as: UTF8.self) }
}

func lstatus(_ path: String) -> stat? {
    var info = stat()
    return lstat(path, &info) == 0 ? info : nil
}

func exists(_ path: String) -> Bool { lstatus(path) != nil }

func entries(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}

/// Builds layer blobs from directory trees (or raw tar entries) made by the tests.
final class LayerFactory {
    let directory: String
    private var count = 0

    init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// A gzip layer holding the tree `build` makes (a `.wh.` file in it is a whiteout). With
    /// `reproducible`, times are clamped to the epoch, so two processes building the same tree get the
    /// same diffID.
    func layer(reproducible: Bool = false, _ build: (String) throws -> Void) throws -> LayerBlob {
        count += 1
        let tree = "\(directory)/tree\(count)"
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        try build(tree)
        let blob = "\(directory)/layer\(count).tar.gz"
        let digests = try LayerExport.directory(tree, toFile: blob, options: LayerWriteOptions(sourceDateEpoch: reproducible ? 0 : nil))
        return LayerBlob(path: blob, diffID: digests.diffID, label: "test layer \(count)")
    }

    /// An uncompressed layer of exactly these entries (for hostile names a tree cannot hold).
    func raw(_ entries: [(TarEntry, String?)]) throws -> LayerBlob {
        count += 1
        let blob = "\(directory)/layer\(count).tar"
        let sink = try FileSink(creating: blob)
        let tar = try TarWriter(sink: sink)
        for (entry, contents) in entries {
            if let contents { try tar.write(entry, contents: Array(contents.utf8)) } else { try tar.writeHeader(entry) }
        }
        try tar.finish()
        sink.close()
        let diffID = Digest.sha256(of: try Data(contentsOf: URL(filePath: blob)))
        return LayerBlob(path: blob, diffID: diffID, label: "test layer \(count)")
    }
}

/// One tar entry as the tests compare it.
struct EntrySummary: Hashable, CustomStringConvertible {
    var path: String
    var kind: TarEntry.Kind
    var mode: UInt32
    var uid: UInt32
    var gid: UInt32
    var content: String?
    var link: String?

    var description: String {
        "\(path) \(kind.rawValue) \(String(mode, radix: 8)) \(uid):\(gid)" + (content.map { " \"\($0)\"" } ?? "") + (link.map { " -> \($0)" } ?? "")
    }

    static func read(_ bytes: [UInt8]) throws -> [EntrySummary] {
        let source = try DecompressingSource(source: MemorySource(bytes))
        let reader = try TarReader(source: source)
        var result: [EntrySummary] = []
        while let entry = try reader.next() {
            var summary = EntrySummary(path: entry.path, kind: entry.kind, mode: entry.permissions, uid: entry.uid, gid: entry.gid,
                                       link: entry.linkTarget)
            if entry.kind == .regular { summary.content = String(decoding: try reader.readAll(), as: UTF8.self) }
            result.append(summary)
        }
        return result
    }
}

/// Processes named fuse-overlayfs, anywhere on the host (or in this pid namespace).
/// fuse-overlayfs processes serving a mount under `path`: only this test's (other suites run their own
/// fuse-overlayfs at the same time).
func fuseOverlayProcesses(under path: String) -> [Int32] {
    entries("/proc").compactMap(Int32.init).filter { pid in
        guard read("/proc/\(pid)/comm")?.trimmingCharacters(in: .whitespacesAndNewlines) == "fuse-overlayfs" else { return false }
        let arguments = read("/proc/\(pid)/cmdline")?.split(separator: "\0").map(String.init) ?? []
        return arguments.contains { $0 == path || $0.hasPrefix(path + "/") || $0.contains("=" + path + "/") }
    }
}

/// Held while a test depends on /dev/fuse's mode, which the snapshot and build suites change: one at a
/// time, across processes.
func withDevFuseLock<T>(_ body: () throws -> T) throws -> T {
    let lock = try FileLock(path: "/tmp/img-tests-dev-fuse.lock")
    defer { lock.unlock() }
    return try body()
}

/// Mounts at or under `path` in this process's mount namespace.
func mounts(under path: String) -> [String] {
    ((try? MountInfoEntry.current()) ?? []).map(\.mountPoint).filter { $0 == path || $0.hasPrefix(path + "/") }
}
