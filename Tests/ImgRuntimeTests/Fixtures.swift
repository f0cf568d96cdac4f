import Glibc
import ImgRuntime
import ImgSystem
import Synchronization
import Testing
import ImgTestSupport

func writeFile(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { throw SystemError.errno("open \(path)") }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else { throw SystemError.errno("write \(path)") }
}

func exists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

func directoryEntries(_ path: String) -> [String] {
    guard let directory = opendir(path) else { return [] }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

/// A temporary work area: `rootfs/` (busybox, /etc/passwd with root and app 1000, /etc/group with root,
/// app 1000 and extra 2000 listing app), `state/` (img's state directory). Removed by `remove()`. A test using
/// it says `.needs(.root, .runc, .busybox)`.
struct TestWorkspace {
    let path: String
    var rootfs: String { path + "/rootfs" }
    var state: String { path + "/state" }

    init() throws {
        try Prerequisite.require(.root, .runc, .busybox)
        let busybox = try Prerequisite.busybox.require()
        path = try makeTemporaryDirectory("img-runtime")
        chmod(path, 0o755)
        for directory in [rootfs, rootfs + "/bin", rootfs + "/etc", rootfs + "/tmp", rootfs + "/home", rootfs + "/home/app"] {
            mkdir(directory, 0o755)
        }
        chmod(rootfs + "/tmp", 0o1777)
        try host("/bin/cp", busybox, rootfs + "/bin/busybox")
        // Static busybox installs its applets as symlinks, run inside the rootfs so the links are relative to it.
        try host("/usr/sbin/chroot", rootfs, "/bin/busybox", "--install", "-s", "/bin")
        try writeFile(rootfs + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n")
        try writeFile(rootfs + "/etc/group", "root:x:0:\napp:x:1000:\nextra:x:2000:app\n")
        chown(rootfs + "/home/app", 1000, 1000)
    }

    func remove() {
        _ = try? ChildProcess.collect(executable: "/bin/rm", arguments: ["-rf", "--one-file-system", path])
    }

    /// Gives the whole workspace to `uid`/`gid` (for the rootless tests: inside the namespace it is root's).
    func chownAll(to owner: String) throws {
        try host("/bin/chown", "-R", owner, path)
    }
}

/// Collects a step's output, in arrival order.
final class OutputLog: Sendable {
    private let chunks = Mutex<[(StdioStream, [UInt8])]>([])

    func append(_ stream: StdioStream, _ bytes: [UInt8]) { chunks.withLock { $0.append((stream, bytes)) } }
    func text(_ stream: StdioStream) -> String {
        chunks.withLock { String(decoding: $0.filter { $0.0 == stream }.flatMap(\.1), as: UTF8.self) }
    }
    var stdout: String { text(.stdout) }
    var stderr: String { text(.stderr) }
}

/// A flag set once from any thread.
final class Flag: Sendable {
    private let value = Mutex<Bool>(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
