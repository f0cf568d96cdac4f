import Foundation
import Glibc
import ImgSystem
import Testing
import ImgTestSupport

/// `kill -9` of img in the middle of a RUN step: nothing img started survives it (runc, the step's
/// processes, fuse-overlayfs), the next command on the same state starts at once, and what the killed
/// build left in the state directory is removed without touching a build that is still running.
@Suite(.serialized, .needs(.busybox, .runc, .rootlessTestUsers, .setpriv)) struct KilledProcessTests {
    enum Caller: String, Sendable, CaseIterable {
        case root, rootless
    }

    static let cases: [(Caller, String)] = Caller.allCases.flatMap { caller in
        ["overlayfs", "fuse-overlayfs", "native"].map { (caller, $0) }
    }

    @Test(arguments: cases)
    func killedBuildLeavesNoProcessAndTheNextBuildRuns(caller: Caller, backend: String) throws {
        // The snapshot suite and the rootless builds change /dev/fuse's mode: take turns with them.
        let lock = try FileLock(path: "/tmp/img-tests-dev-fuse.lock")
        defer { lock.unlock() }
        let fuse = try DeviceMode(path: "/dev/fuse", wanted: backend == "fuse-overlayfs" && caller == .rootless ? 0o666 : nil)
        defer { fuse.restore() }
        let f = try BuildFixture()
        if caller == .rootless { try Self.handToTestUser(f) }
        let seconds = Int.random(in: 30_000...99_999)
        try f.write("Dockerfile", BuildTests.base + "RUN echo st''arted-\(seconds) && sleep \(seconds) && echo done\n")

        let build = try Self.start(f, caller: caller, backend: backend, until: "started-\(seconds)")
        // The shell has echoed; its `sleep` may take a moment more to start.
        var before = Self.processes(of: f.state, sleeping: seconds)
        for _ in 0..<50 where !before.contains(where: { $0.command.hasPrefix("sleep \(seconds)") }) {
            usleep(20_000)
            before = Self.processes(of: f.state, sleeping: seconds)
        }
        #expect(before.contains { $0.command.hasPrefix("sleep \(seconds)") }, "\(before)")
        #expect(before.contains { $0.command.contains("runc") }, "\(before)")
        if backend == "fuse-overlayfs" { #expect(before.contains { $0.command.contains("fuse-overlayfs") }, "\(before)") }
        let container = before.lazy.compactMap { Self.containerID(in: $0.command) }.first
        #expect(container != nil, "\(before)")

        kill(build.processIdentifier, SIGKILL)
        build.waitUntilExit()
        let left = Self.waitUntilGone(state: f.state, sleeping: seconds)
        #expect(left.isEmpty, "still running a second after kill -9: \(left)")

        // The next build takes the lock at once, and removes what the killed one left.
        try f.write("Dockerfile", BuildTests.base + "RUN echo after\n")
        let started = Date()
        let next = try Self.run(f, caller: caller, arguments: ["-b", backend, "build", "--progress", "plain", f.context.path])
        #expect(next.status == 0, "\(next.stderr)")
        #expect(Date().timeIntervalSince(started) < 20)
        for directory in ["tmp", "runtime/bundles", "runtime/runc", "snapshots/tmp"] {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: f.state + "/" + directory)) ?? []
            #expect(entries.isEmpty, "\(directory): \(entries)")
        }
        if let container {
            // As real root runc made cgroups for the container; `runc delete --force` took them away.
            let cgroups = (try? SaveLoadTests.shell("find /sys/fs/cgroup -maxdepth 3 -name '\(container)'").stdout) ?? ""
            #expect(cgroups.isEmpty, "\(cgroups)")
        }
        #expect(!BuildTests.mountsMention(f.state))
    }

    /// A build killed mid-RUN while another build on the same state keeps running: `img prune` removes the
    /// killed one's scratch directory, bundle and container and says so; the running build's files stay and
    /// it succeeds.
    @Test func pruneRemovesLeftoversOfAKilledBuildButNotOfARunningOne() throws {
        let f = try BuildFixture()
        let seconds = Int.random(in: 30_000...99_999)
        try f.write("Dockerfile", BuildTests.base + "RUN echo st''arted-\(seconds) && sleep \(seconds)\n")
        try f.write("other/Dockerfile", BuildTests.base + "RUN echo other-st''arted && sleep 4 && echo other-done\n")
        try FileManager.default.copyItem(atPath: f.context.appending(path: "busybox").path,
                                         toPath: f.context.appending(path: "other/busybox").path)
        // The step titles show the command as written (st''arted); only the step output matches.
        let victim = try Self.start(f, caller: .root, backend: "native", until: "started-\(seconds)")
        let other = try Self.start(f, caller: .root, backend: "native", until: "other-started",
                                   context: f.context.appending(path: "other").path)
        let owners = try FileManager.default.contentsOfDirectory(atPath: f.state + "/owners")
        let tokens = Set(owners)
        kill(victim.processIdentifier, SIGKILL)
        victim.waitUntilExit()
        let left = Self.waitUntilGone(state: f.state, sleeping: seconds) { $0.command.contains("\(seconds)") }
        #expect(left.isEmpty, "\(left)")

        func entries(_ directory: String) -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: f.state + "/" + directory)) ?? []).sorted()
        }
        let beforeBundles = entries("runtime/bundles")
        #expect(beforeBundles.count == 2, "both builds' RUN bundles: \(beforeBundles)")
        let prune = try f.img(["prune"])
        #expect(prune.status == 0, "\(prune.stderr)")
        #expect(prune.stdout.contains("Removed leftovers of killed commands: 3 ("), "\(prune.stdout)")
        // What is left is the running build's: one scratch directory, one bundle, one container.
        let running = Set(["tmp", "runtime/bundles", "runtime/runc"].flatMap(entries).compactMap {
            ProcessOwners.token(inName: $0).map(String.init)
        })
        #expect(running.count == 1 && tokens.isSuperset(of: running), "\(running) of \(tokens)")
        for directory in ["tmp", "runtime/bundles", "runtime/runc"] { #expect(entries(directory).count == 1, "\(directory)") }

        other.waitUntilExit()
        #expect(other.terminationStatus == 0)
        // Once nothing runs, the next command removes the killed build's work directory and its record too.
        #expect(try f.img(["prune"]).status == 0)
        #expect(entries("snapshots/tmp").isEmpty, "\(entries("snapshots/tmp"))")
        let records = entries("owners")
        #expect(records.count <= 1 && !records.contains { tokens.contains($0) }, "\(records)")
    }

    // MARK: - Support

    struct Running: CustomStringConvertible {
        var pid: Int32
        var command: String
        var description: String { "\(pid) \(command)" }
    }

    /// Processes whose command line names the state directory or is the step's `sleep`.
    static func processes(of state: String, sleeping seconds: Int) -> [Running] {
        var result: [Running] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(name), pid != getpid(),
                  let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline"), !data.isEmpty
            else { continue }
            let command = String(decoding: data.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
            // The step's `sleep N` as whole words: `sleep 60` of someone else is not `sleep 6`.
            let words = command.split(separator: " ")
            let sleeps = zip(words, words.dropFirst()).contains { $0.0.hasSuffix("sleep") && $0.1 == "\(seconds)" }
            if command.contains(state) || sleeps { result.append(Running(pid: pid, command: command)) }
        }
        return result
    }

    /// Waits up to a second for the processes of `state` that `select` picks (not another build's)
    /// to end; kills any still there, so no test leaves one behind, and returns them.
    static func waitUntilGone(state: String, sleeping seconds: Int, _ select: (Running) -> Bool = { _ in true })
        -> [Running]
    {
        let deadline = Date().addingTimeInterval(1)
        var left = processes(of: state, sleeping: seconds).filter(select)
        while !left.isEmpty && Date() < deadline {
            usleep(20_000)
            left = processes(of: state, sleeping: seconds).filter(select)
        }
        for process in left { kill(process.pid, SIGKILL) }
        return left
    }

    /// The container id in a `runc ... run --bundle DIR ID` command line.
    static func containerID(in command: String) -> String? {
        let words = command.split(separator: " ")
        guard words.contains(where: { $0.hasSuffix("runc") }), words.contains("run"), let last = words.last,
              last.hasPrefix("img-") else { return nil }
        return String(last)
    }

    /// The test user must reach the context and own its state directory.
    static func handToTestUser(_ f: BuildFixture) throws {
        try RootlessBuildTests.ensureUser()
        let given = try SaveLoadTests.shell("chmod 755 '\(f.dir.url.path)' && chown -R \(RootlessBuildTests.user) '\(f.dir.url.path)'")
        guard given.status == 0 else { throw BuildFixtureError("chown: \(given.stderr)") }
    }

    /// The argv that runs img as `caller`: as the test user through `setpriv`, which execs img in its own
    /// place, so the pid the test kills is img's.
    static func command(_ caller: Caller, _ arguments: [String]) throws -> (String, [String]) {
        switch caller {
        case .root: return (ImgBinary.url.path, arguments)
        case .rootless:
            return (try Prerequisite.setpriv.require(), ["--reuid", RootlessBuildTests.user, "--regid", RootlessBuildTests.user,
                                         "--init-groups", "--", ImgBinary.url.path] + arguments)
        }
    }

    /// Starts a build and returns once its output shows `text` (the RUN step is running).
    static func start(_ f: BuildFixture, caller: Caller, backend: String, until text: String, context: String? = nil)
        throws -> Process
    {
        let (executable, arguments) = try command(caller, ["-s", f.state, "-b", backend, "build", "--progress", "plain",
                                                       context ?? f.context.path])
        let watched = try WatchedProcess.start(URL(filePath: executable), arguments, environment: environment,
                                               directory: "/tmp", until: text)
        guard watched.found else {
            watched.process.waitUntilExit()
            throw BuildFixtureError("the build ended before its RUN step started: \(watched.output)")
        }
        return watched.process
    }

    /// The test's environment with a HOME the test user may read (setpriv changes no variable).
    static var environment: [String: String] {
        var values = ProcessInfo.processInfo.environment
        values["HOME"] = "/tmp"
        values["XDG_CONFIG_HOME"] = nil
        values["XDG_DATA_HOME"] = nil
        return values
    }

    static func run(_ f: BuildFixture, caller: Caller, arguments: [String]) throws -> ImgBinary.Result {
        let (executable, rest) = try command(caller, ["-s", f.state] + arguments)
        let result = try ChildProcess.collect(executable: executable, arguments: rest,
                                              environment: environment.map { "\($0.key)=\($0.value)" })
        return ImgBinary.Result(status: result.status.shellCode, stdout: result.stdout, stderr: result.stderr)
    }
}

/// A device's mode, changed for a test and put back after it.
struct DeviceMode {
    let path: String
    let original: mode_t
    let changed: Bool

    init(path: String, wanted: mode_t?) throws {
        self.path = path
        var info = stat()
        guard stat(path, &info) == 0 else { throw BuildFixtureError("\(path): \(String(cString: strerror(errno)))") }
        original = info.st_mode & 0o7777
        changed = wanted != nil && wanted != original
        if let wanted, changed, chmod(path, wanted) != 0 {
            throw BuildFixtureError("chmod \(path): \(String(cString: strerror(errno)))")
        }
    }

    func restore() { if changed { chmod(path, original) } }
}
