import Glibc
import ImgSystem
import Testing
import ImgTestSupport

/// Real mounts, as root, in the test process's own mount namespace: each test unmounts what it mounted.
@Suite struct MountTests {
    private func mountPoints(under path: String) throws -> [MountInfoEntry] {
        try MountInfoEntry.current().filter { $0.mountPoint == path || $0.mountPoint.hasPrefix(path + "/") }
    }

    private func write(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemError.errno("open \(path)") }
        defer { close(fd) }
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
    }

    @Test(.needs(.root))
    func tmpfsMountsAndUnmounts() throws {
        try Prerequisite.root.require()
        let directory = try TemporaryDirectory("img-mount")
        defer { directory.remove() }
        try Mount.tmpfs(target: directory.path, options: "mode=700,size=1m")
        let entries = try mountPoints(under: directory.path)
        try Mount.unmount(directory.path)
        #expect(entries.count == 1)
        #expect(entries.first?.filesystemType == "tmpfs")
        #expect(try mountPoints(under: directory.path).isEmpty)
    }

    @Test(.needs(.root))
    func readOnlyBindRefusesWrites() throws {
        try Prerequisite.root.require()
        let directory = try TemporaryDirectory("img-bind with space")
        defer { directory.remove() }
        mkdir(directory.path + "/src", 0o755)
        mkdir(directory.path + "/dst", 0o755)
        try write("hello", to: directory.path + "/src/file")
        try Mount.bind(source: directory.path + "/src", target: directory.path + "/dst", readOnly: true)
        let entries = try mountPoints(under: directory.path)
        let readable = access(directory.path + "/dst/file", R_OK) == 0
        let created = open(directory.path + "/dst/new", O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        let createError = errno
        if created >= 0 { close(created) }
        try Mount.unmount(directory.path + "/dst")
        #expect(readable)
        #expect(created < 0 && createError == EROFS)
        // mountinfo escapes the space as \040; the parser decodes it.
        #expect(entries.map(\.mountPoint) == [directory.path + "/dst"])
        #expect(entries.first?.options.hasPrefix("ro") == true)
    }

    @Test(.needs(.root))
    func overlayMergesLowerAndUpper() throws {
        try Prerequisite.root.require()
        let directory = try TemporaryDirectory("img-overlay")
        defer { directory.remove() }
        for name in ["lower", "upper", "work", "merged"] { mkdir(directory.path + "/" + name, 0o755) }
        try write("from lower", to: directory.path + "/lower/a")
        try write("doomed", to: directory.path + "/lower/b")
        try Mount.overlay(
            lower: [directory.path + "/lower"], upper: directory.path + "/upper", work: directory.path + "/work",
            target: directory.path + "/merged", userXattr: false)
        let sawLower = access(directory.path + "/merged/a", R_OK) == 0
        try write("new", to: directory.path + "/merged/c")
        unlink(directory.path + "/merged/b")
        let entries = try mountPoints(under: directory.path)
        try Mount.unmount(directory.path + "/merged")
        #expect(sawLower)
        #expect(entries.first?.filesystemType == "overlay")
        #expect(access(directory.path + "/upper/c", R_OK) == 0)
        // A deleted lower file is a 0/0 character device (a whiteout) in the upper directory.
        var info = stat()
        #expect(lstat(directory.path + "/upper/b", &info) == 0 && info.st_mode & S_IFMT == S_IFCHR && info.st_rdev == 0)
    }

    @Test(.needs(.root))
    func errorsAreTyped() throws {
        try Prerequisite.root.require()
        #expect {
            try Mount.unmount("/nonexistent/img-test")
        } throws: { error in
            (error as? MountError)?.description == "unmount /nonexistent/img-test: No such file or directory"
        }
        #expect {
            try Mount.mount(source: "none", target: "/nonexistent/img-test", type: "tmpfs")
        } throws: { error in
            (error as? MountError) == MountError(operation: .mount, target: "/nonexistent/img-test", kind: "tmpfs", code: ENOENT)
        }
    }

    /// Relative names in the options resolve in the given directory; this process's working directory (shared
    /// by all its threads) stays where it was; failures come back as the mount's errno.
    @Test(.needs(.root))
    func mountInDirectoryResolvesRelativeNamesThere() throws {
        try Prerequisite.root.require()
        let directory = try TemporaryDirectory("img-mount-in")
        defer { directory.remove() }
        for name in ["l", "l/0", "l/1", "upper", "work", "merged"] { mkdir(directory.path + "/" + name, 0o755) }
        try write("zero", to: directory.path + "/l/0/a")
        try write("one", to: directory.path + "/l/1/b")
        var before = [CChar](repeating: 0, count: 4096)
        _ = getcwd(&before, before.count)
        try Mount.mount(
            inDirectory: directory.path + "/l", source: "overlay", target: directory.path + "/merged", type: "overlay",
            data: "lowerdir=0:1,upperdir=\(directory.path)/upper,workdir=\(directory.path)/work")
        let merged = (access(directory.path + "/merged/a", R_OK), access(directory.path + "/merged/b", R_OK))
        try Mount.unmount(directory.path + "/merged")
        var after = [CChar](repeating: 0, count: 4096)
        _ = getcwd(&after, after.count)
        #expect(merged == (0, 0))
        #expect(String(cString: after) == String(cString: before))
        #expect {
            try Mount.mount(
                inDirectory: directory.path + "/l", source: "overlay", target: directory.path + "/merged", type: "overlay",
                data: "lowerdir=missing,upperdir=\(directory.path)/upper,workdir=\(directory.path)/work")
        } throws: { error in
            (error as? MountError)?.code == ENOENT
        }
        #expect {
            try Mount.mount(inDirectory: directory.path + "/absent", source: "none", target: directory.path + "/merged", type: "tmpfs")
        } throws: { error in
            (error as? MountError)?.code == ENOENT
        }
    }

    @Test func mountInfoParsesEscapesAndOptionalFields() {
        let text = """
            36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue
            40 36 0:5 / /proc rw - proc proc rw

            """
        let entries = MountInfoEntry.parse(text)
        #expect(entries.count == 2)
        #expect(entries[0].mountPoint == "/mnt/a b")
        #expect(entries[0].filesystemType == "ext3")
        #expect(entries[0].source == "/dev/root")
        #expect(entries[1].parentID == 36)
    }

    @Test(.needs(.root))
    func overlayPathsAreEscaped() throws {
        try Prerequisite.root.require()
        let directory = try TemporaryDirectory("img-overlay,colon:")
        defer { directory.remove() }
        for name in ["l1", "l2", "merged"] { mkdir(directory.path + "/" + name, 0o755) }
        try write("1", to: directory.path + "/l1/one")
        try write("2", to: directory.path + "/l2/two")
        try Mount.overlay(lower: [directory.path + "/l1", directory.path + "/l2"], upper: nil, work: nil, target: directory.path + "/merged", userXattr: false)
        let both = access(directory.path + "/merged/one", R_OK) == 0 && access(directory.path + "/merged/two", R_OK) == 0
        try Mount.unmount(directory.path + "/merged")
        #expect(both)
    }
}

@Suite struct ProcessTests {
    @Test func collectsOutputAndStatus() throws {
        let result = try ChildProcess.collect(executable: "/bin/sh", arguments: ["-c", "echo out; echo err >&2; exit 3"])
        #expect(result.status == .exited(3))
        #expect(result.stdout == "out\n")
        #expect(result.stderr == "err\n")
    }

    @Test func signalDeathIsDecoded() throws {
        let result = try ChildProcess.collect(executable: "/bin/sh", arguments: ["-c", "kill -TERM $$"])
        #expect(result.status == .signaled(SIGTERM))
        #expect(result.status.shellCode == 128 + SIGTERM)
    }

    @Test func environmentIsExactlyWhatWasGiven() throws {
        let result = try ChildProcess.collect(executable: "/usr/bin/env", arguments: [], environment: ["A=1", "B=two words"])
        #expect(result.stdout == "A=1\nB=two words\n")
    }

    @Test func lookupFollowsSearchPath() {
        #expect(ExecutableLookup.find("sh", searchPath: "/nonexistent:/bin") == "/bin/sh")
        #expect(ExecutableLookup.find("sh", searchPath: "/nonexistent") == nil)
        #expect(ExecutableLookup.find("/bin/sh") == "/bin/sh")
        #expect(ExecutableLookup.find("/etc/passwd") == nil)  // not executable
    }

    @Test func startingAMissingProgramThrows() {
        #expect(throws: SystemError.self) {
            try ChildProcess(executable: "/nonexistent/program", arguments: [], environment: [])
        }
    }
}
