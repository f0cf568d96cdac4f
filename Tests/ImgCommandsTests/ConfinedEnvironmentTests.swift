import Foundation
import Glibc
import Testing
import ImgTestSupport

/// What img does where a container (or a pod) confines it, reproduced on this host with the same kernel
/// mechanisms: no subordinate ids to map (single-id mode), an outer /proc that is partly masked (the
/// process-sandbox fallback), and a root without CAP_SYS_ADMIN (its own ids mapped onto themselves). The
/// real containers are in InContainerTests.
@Suite(.serialized, .needs(.busybox, .runc, .rootlessTestUsers)) struct ConfinedEnvironmentTests {
    static let user = RootlessBuildTests.user

    /// A fixture whose context and state the test user owns, and `img` run as that user with `environment`.
    final class UserFixture {
        let fixture: BuildFixture
        init() throws {
            try RootlessBuildTests.ensureUser()
            fixture = try BuildFixture()
            #expect(try SaveLoadTests.shell("chmod 755 '\(fixture.dir.url.path)' && chown -R \(ConfinedEnvironmentTests.user) '\(fixture.dir.url.path)'").status == 0)
        }

        func write(_ name: String, _ text: String) throws {
            try fixture.write(name, text)
            #expect(try SaveLoadTests.shell("chown \(ConfinedEnvironmentTests.user) '\(fixture.context.appending(path: name).path)'").status == 0)
        }

        /// `img -s STATE ARGUMENTS` as the test user, wrapped in `prefix` (a shell command that execs the rest).
        func img(_ arguments: String, environment: String = "", prefix: String = "") throws -> ImgBinary.Result {
            let command = "runuser -u \(ConfinedEnvironmentTests.user) -- env HOME=/tmp \(environment) '\(ImgBinary.url.path)' -s '\(fixture.state)' \(arguments)"
            return try SaveLoadTests.shell("cd /tmp && " + (prefix.isEmpty ? command : prefix.replacingOccurrences(of: "{}", with: command)))
        }

        func file(_ path: String) throws -> String {
            try String(contentsOfFile: fixture.dir.url.appending(path: path).path, encoding: .utf8)
        }
    }

    /// No newuidmap (or no range): the caller alone, as root. A build that needs no other id works, with a
    /// warning; a chown to another id and a USER of another id fail naming the step and saying why.
    @Test func singleIDModeBuildsWhatNeedsNoOtherID() throws {
        let f = try UserFixture()
        let runcOnly = f.fixture.dir.url.appending(path: "runc-only").path
        #expect(try SaveLoadTests.shell("mkdir -p '\(runcOnly)' && ln -s \"$(command -v runc)\" '\(runcOnly)/runc' && chmod 755 '\(runcOnly)'").status == 0)
        let path = "PATH=\(runcOnly)"
        let out = f.fixture.dir.url.appending(path: "out").path

        try f.write("Dockerfile", BuildTests.base + "RUN echo made > /made && id -u > /uid && id -g > /gid\nRUN rm /made\n")
        let built = try f.img("-d build --progress plain -o type=local,dest='\(out)' '\(f.fixture.context.path)'", environment: path)
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stderr.contains("warning: no subordinate id range (or no newuidmap) for uid \(try RootlessBuildTests.uid()): building with a single id"), "\(built.stderr)")
        #expect(built.stderr.contains("id mapping: single id"), "\(built.stderr)")
        #expect(try f.file("out/uid") == "0\n" && f.file("out/gid") == "0\n")
        #expect(access(out + "/made", F_OK) != 0)

        try f.write("Dockerfile.chown", BuildTests.base + "RUN touch /x && chown 1000 /x\n")
        let chown = try f.img("build --progress plain -f '\(f.fixture.context.path)/Dockerfile.chown' '\(f.fixture.context.path)'", environment: path)
        #expect(chown.status != 0)
        #expect(chown.stderr.split(separator: "\n").contains { $0.hasPrefix("error: ") && $0.contains("Dockerfile.chown:4: RUN exited with code 1: touch /x && chown 1000 /x (img runs with a single id: only uid and gid 0 exist") }, "\(chown.stderr)")

        try f.write("Dockerfile.user", BuildTests.base + "USER 1000:1000\nRUN true\n")
        let user = try f.img("build --progress plain -f '\(f.fixture.context.path)/Dockerfile.user' '\(f.fixture.context.path)'", environment: path)
        #expect(user.status != 0)
        #expect(user.stderr.contains("Dockerfile.user:5: RUN as USER 1000:1000 needs uid 1000 and gid 1000, but img runs with a single id"), "\(user.stderr)")
    }

    /// A container runtime masks parts of /proc (here: /dev/null bound over /proc/keys in a mount namespace
    /// of the test's), so the kernel refuses a fresh proc mount in a user namespace. img finds that at
    /// start-up and runs RUN steps in its own PID namespace with the outer /proc bound read-only, instead of
    /// failing every step; unmasked, each step has its own.
    @Test func maskedProcTurnsTheProcessSandboxOff() throws {
        let f = try UserFixture()
        try f.write("Dockerfile", BuildTests.base + "RUN cat /proc/1/comm > /init && grep ' /proc ' /proc/mounts > /mounts\n")
        let masked = f.fixture.dir.url.appending(path: "masked").path
        let run = try f.img("-d build --no-cache --progress plain -o type=local,dest='\(masked)' '\(f.fixture.context.path)'",
                            prefix: "unshare -m --propagation private sh -c 'mount --bind /dev/null /proc/keys && exec \"$0\" \"$@\"' sh -c \"{}\"")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("sandbox: process sandbox off: /proc is masked by the container runtime"), "\(run.stderr)")
        // pid 1 is this host's init, not the step's shell; /proc is the outer one, read-only.
        #expect(try f.file("masked/init") != "sh\n")
        let mount = try f.file("masked/mounts")
        #expect(mount.hasPrefix("proc /proc proc ro,"), "\(mount)")

        let open = f.fixture.dir.url.appending(path: "open").path
        let full = try f.img("-d build --no-cache --progress plain -o type=local,dest='\(open)' '\(f.fixture.context.path)'")
        #expect(full.status == 0, "\(full.stderr)")
        #expect(full.stderr.contains("sandbox: full: each RUN step has its own PID namespace and /proc"), "\(full.stderr)")
        #expect(try f.file("open/init") == "sh\n")
        #expect(try f.file("open/mounts").hasPrefix("proc /proc proc rw,"))
    }

    /// Root without CAP_SYS_ADMIN (a container's root: capsh drops it from the bounding set here) cannot
    /// make a mount namespace, but can make a user namespace: img maps root's own ids onto themselves there,
    /// so owners survive. unpack takes the same way.
    @Test(.needs(.capsh))
    func rootWithoutCapSysAdminMapsItsOwnIDs() throws {
        try Prerequisite.capsh.require()
        let f = try BuildFixture()
        try f.write("Dockerfile", BuildTests.base + "RUN touch /owned && chown 1000:1000 /owned && cat /proc/self/uid_map > /map\n")
        func confined(_ arguments: String) throws -> ImgBinary.Result {
            try SaveLoadTests.shell("capsh --drop=cap_sys_admin -- -c \"'\(ImgBinary.url.path)' -s '\(f.state)' \(arguments)\"")
        }
        let built = try confined("-d build --progress plain -t confined '\(f.context.path)'")
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stderr.contains("id mapping: root without CAP_SYS_ADMIN: the container's own ids onto themselves"), "\(built.stderr)")
        let rootfs = f.dir.url.appending(path: "rootfs").path
        let unpacked = try confined("unpack -o '\(rootfs)' confined")
        #expect(unpacked.status == 0, "\(unpacked.stderr)")
        var info = stat()
        #expect(lstat(rootfs + "/owned", &info) == 0 && info.st_uid == 1000 && info.st_gid == 1000)
        // All but the last id: the full range is how runc would take this for the initial namespace.
        let map = try String(contentsOfFile: rootfs + "/map", encoding: .utf8).split(whereSeparator: \.isWhitespace)
        #expect(map == ["0", "0", "4294967294"], "\(map)")
    }
}
