import Foundation
import Glibc
import Testing
import ImgTestSupport

/// What a RUN step may do, through the real binary, as root and as an ordinary user: docker's seccomp
/// filter and capabilities by default, neither with `RUN --security=insecure` once `--allow
/// security.insecure` grants it; secrets mounted 0400 root:root unless the mount says otherwise.
@Suite(.serialized, .needs(.busybox, .runc)) struct RunSandboxTests {
    /// Steps whose results the tests read from the image: the filter's mode, whether `unshare -Urm` worked,
    /// and the owner and fifo changes builds make.
    static let sandboxed = BuildTests.base + """
        RUN grep '^Seccomp:' /proc/self/status > /seccomp
        RUN if unshare -Urm true 2>/unshare-error; then echo allowed; else echo refused; fi > /unshare
        RUN mkdir -p /tmp /owned && chown 1000:1000 /owned && mkfifo /tmp/fifo && stat -c '%u:%g' /owned > /changes

        """

    /// Steps under `--security=insecure` (and one without, after it).
    static let insecure = BuildTests.base + """
        RUN --security=insecure grep -E '^(Seccomp|CapEff):' /proc/self/status > /status && unshare -Urm true
        RUN grep '^Seccomp:' /proc/self/status > /after

        """

    /// Secret mounts: BuildKit's default mode and owner, then chosen ones.
    static let secrets = BuildTests.base + """
        RUN --mount=type=secret,id=token stat -c '%a %u:%g' /run/secrets/token > /default-mode
        RUN --mount=type=secret,id=token,mode=0440,uid=1000,gid=1001 stat -c '%a %u:%g' /run/secrets/token > /chosen-mode

        """

    /// What an insecure step's CapEff must be, as /proc shows it: img grants every capability it may hold,
    /// which as root is the test process's bounding set, and in img's user namespace every capability the
    /// kernel has (a new user namespace starts with a full bounding set).
    static func allCapabilities(rootless: Bool) throws -> String {
        if rootless {
            let last = try String(contentsOfFile: "/proc/sys/kernel/cap_last_cap", encoding: .utf8)
            guard let number = Int(last.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw BuildFixtureError("cannot read /proc/sys/kernel/cap_last_cap: \(last)")
            }
            let mask = (UInt64(1) << UInt64(number + 1)) - 1
            let hex = String(mask, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapBnd:") }) else {
            throw BuildFixtureError("no CapBnd in /proc/self/status")
        }
        return line.dropFirst("CapBnd:".count).trimmingCharacters(in: .whitespaces)
    }

    /// `img build` as root, or as `RootlessBuildTests.user` (who then owns the fixture).
    static func build(_ f: BuildFixture, rootless: Bool, _ arguments: String) throws -> ImgBinary.Result {
        guard rootless else {
            return try SaveLoadTests.shell("'\(ImgBinary.url.path)' -s '\(f.state)' build --progress plain \(arguments) '\(f.context.path)'")
        }
        let command = "cd /tmp && '\(ImgBinary.url.path)' -s '\(f.state)' build --progress plain \(arguments) '\(f.context.path)'"
        return try SaveLoadTests.shell("runuser -u \(RootlessBuildTests.user) -- sh -c \"\(command.replacingOccurrences(of: "\"", with: "\\\""))\"")
    }

    static func fixture(rootless: Bool, _ dockerfile: String) throws -> BuildFixture {
        if rootless { try RootlessBuildTests.ensureUser() }
        let f = try BuildFixture()
        try f.write("Dockerfile", dockerfile)
        try f.write("token", "s3cr3t\n")
        if rootless {
            #expect(try SaveLoadTests.shell("chmod 755 '\(f.dir.url.path)' && chown -R \(RootlessBuildTests.user) '\(f.dir.url.path)'").status == 0)
        }
        return f
    }

    /// A file of the tar that `img build -o type=tar` wrote.
    static func file(_ tar: String, _ path: String) throws -> String {
        try SaveLoadTests.shell("tar -xOf '\(tar)' '\(path)'").stdout
    }

    @Test(arguments: [false, true])
    func runStepsAreFilteredButKeepWorking(rootless: Bool) throws {
        let f = try Self.fixture(rootless: rootless, Self.sandboxed)
        let tar = f.dir.url.appending(path: "out.tar").path
        let result = try Self.build(f, rootless: rootless, "-o type=tar,dest='\(tar)'")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Self.file(tar, "seccomp") == "Seccomp:\t2\n", "mode 2: a filter is installed")
        #expect(try Self.file(tar, "unshare") == "refused\n")
        #expect(try Self.file(tar, "unshare-error").contains("Operation not permitted"))
        #expect(try Self.file(tar, "changes") == "1000:1000\n")
        let listing = try SaveLoadTests.shell("tar -tvf '\(tar)'").stdout
        #expect(listing.split(separator: "\n").contains { $0.hasPrefix("p") && $0.hasSuffix("tmp/fifo") }, "\(listing)")
    }

    /// As root, mknod of a real character device, which docker's profile lets CAP_MKNOD do. (In a user
    /// namespace the kernel refuses device nodes whatever the filter says, as it does to rootless docker.)
    @Test func mknodOfACharacterDeviceAsRoot() throws {
        let f = try Self.fixture(rootless: false, BuildTests.base + "RUN mkdir -p /tmp && mknod /tmp/null c 1 3 && chown 1000:1000 /tmp/null\n")
        #expect(try f.build(["-t", "devices"]).status == 0)
        let rootfs = try f.unpack("devices")
        var info = stat()
        #expect(lstat(rootfs.appending(path: "tmp/null").path, &info) == 0)
        // 0x103 is glibc's makedev(1, 3), which Swift does not import (a macro).
        #expect(info.st_mode & S_IFMT == S_IFCHR && info.st_rdev == 0x103 && info.st_uid == 1000)
    }

    @Test(arguments: [false, true])
    func insecureNeedsTheEntitlementAndThenRunsUnfiltered(rootless: Bool) throws {
        let f = try Self.fixture(rootless: rootless, Self.insecure)
        let refused = try Self.build(f, rootless: rootless, "")
        #expect(refused.status != 0)
        let errors = refused.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(errors == ["error: \(f.context.path)/Dockerfile:4: RUN --security=insecure is not allowed: pass --allow security.insecure to img build"],
                "\(refused.stderr)")

        let tar = f.dir.url.appending(path: "out.tar").path
        let granted = try Self.build(f, rootless: rootless, "--allow network.host --allow security.insecure -o type=tar,dest='\(tar)'")
        #expect(granted.status == 0, "\(granted.stderr)")
        let status = try Self.file(tar, "status")
        #expect(status == "CapEff:\t\(try Self.allCapabilities(rootless: rootless))\nSeccomp:\t0\n", "\(status)")
        #expect(try Self.file(tar, "after") == "Seccomp:\t2\n", "only the insecure step is unfiltered")
    }

    @Test func allowTakesCommaListsAndNamesAnUnknownEntitlement() throws {
        let f = try Self.fixture(rootless: false, Self.insecure)
        #expect(try f.build(["--allow", "network.host,security.insecure"]).status == 0)
        let unknown = try f.build(["--allow", "security.insecure,device"])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("--allow: unknown entitlement \"device\" (known: security.insecure, network.host)"), "\(unknown.stderr)")
    }

    @Test(arguments: [false, true])
    func secretsAreMountedReadOnlyForRootUnlessTheMountSaysOtherwise(rootless: Bool) throws {
        let f = try Self.fixture(rootless: rootless, Self.secrets)
        let token = f.context.appending(path: "token").path
        #expect(chmod(token, 0o644) == 0)
        let tar = f.dir.url.appending(path: "out.tar").path
        let result = try Self.build(f, rootless: rootless, "--secret id=token,src='\(token)' -o type=tar,dest='\(tar)'")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Self.file(tar, "default-mode") == "400 0:0\n")
        #expect(try Self.file(tar, "chosen-mode") == "440 1000:1001\n")
        // Nothing of the copies is left behind.
        let left = try SaveLoadTests.shell("ls '\(f.state)/runtime' | grep -c '^secret-' || true").stdout
        #expect(left.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        #expect(!BuildTests.mountsMention(f.state))
    }
}
