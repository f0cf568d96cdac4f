import Foundation
import Glibc
import ImgTestSupport
import Testing

/// img inside unprivileged docker containers (issue 20): img's own image, built by img from the repository's
/// Dockerfile and loaded into a private dockerd, runs builds as uid 1000, as root and as a uid without a
/// subordinate range, with only the relaxations the README names.
@Suite(.serialized, .needs(Prerequisite.inContainer), .inContainerEnvironment) struct InContainerTests {
    static let unconfined = ["seccomp=unconfined", "apparmor=unconfined"]
    static let unmasked = unconfined + ["systempaths=unconfined"]

    /// The image itself: what the Dockerfile promises (user, entrypoint, volume, newuidmap with file
    /// capabilities and without the setuid bit).
    @Test func imgBuildsItsOwnImage() throws {
        let env = try InContainerEnvironment.get()
        let state = env.work + "/host-state"
        let inspect = try env.hostImg(state, "inspect \(InContainerEnvironment.image)")
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let config = Self.containerConfig(inspect.stdout)
        #expect(config?["User"] as? String == "1000")
        #expect(config?["WorkingDir"] as? String == "/home/user")
        #expect(config?["Entrypoint"] as? [String] == ["img"])
        #expect((config?["Volumes"] as? [String: Any])?.keys.sorted() == ["/home/user/.local/share/img"], "\(inspect.stdout)")
        let rootfs = env.work + "/img-rootfs"
        #expect(try env.hostImg(state, "unpack -o \(q(rootfs)) \(InContainerEnvironment.image)").status == 0)
        for (tool, capability) in [("newuidmap", "cap_setuid"), ("newgidmap", "cap_setgid")] {
            let caps = try SaveLoadTests.shell("/usr/sbin/getcap \(q(rootfs + "/usr/bin/" + tool))")
            #expect(caps.stdout.contains("\(capability)=ep"), "\(tool): \(caps.stdout) \(caps.stderr)")
            var info = stat()
            #expect(stat(rootfs + "/usr/bin/" + tool, &info) == 0 && info.st_mode & S_ISUID == 0, "\(tool) is still setuid")
        }
        let subuid = try String(contentsOfFile: rootfs + "/etc/subuid", encoding: .utf8)
        #expect(subuid == "user:100000:65536\n")
        #expect(FileManager.default.isExecutableFile(atPath: rootfs + "/usr/local/bin/img"))
        let loaded = try env.docker("image inspect -f '{{.Config.User}} {{json .Config.Entrypoint}}' \(InContainerEnvironment.image)")
        #expect(loaded.stdout == "1000 [\"img\"]\n", "\(loaded.stderr)")
    }

    /// (a) uid 1000 with seccomp and AppArmor unconfined only: chown, whiteouts and COPY --from, checked on the
    /// host from `img save`, then pushed to the host's registry.
    @Test func uid1000WithSeccompAndAppArmorUnconfined() throws {
        let env = try InContainerEnvironment.get()
        try buildsTheMainCase(env, user: 1000, security: Self.unconfined, push: "incontainer/uid1000:a")
    }

    /// (b) With systempaths=unconfined too: the main case and its push, and RUN gets its own PID namespace,
    /// where it sees only its own processes.
    @Test func unmaskedProcGivesRunItsOwnProcesses() throws {
        let env = try InContainerEnvironment.get()
        try buildsTheMainCase(env, user: 1000, security: Self.unmasked, push: "incontainer/unmasked:b")
        let out = try env.directory("out-ps", owner: 1000)
        let state = try env.directory("state-ps", owner: 1000)
        let built = try env.run(user: "1000", security: Self.unmasked,
                                extra: "-v \(q(out)):/out -v \(q(state)):/home/user/.local/share/img",
                                "img build --progress plain -t ps -f /ctx/Dockerfile.ps /ctx && img save -o /out/ps.tar ps")
        try #require(built.status == 0, "\(built.stderr)")
        let rootfs = try unpack(env, out + "/ps.tar", "ps")
        let ps = try String(contentsOfFile: rootfs + "/ps.txt", encoding: .utf8)
        let pids = try String(contentsOfFile: rootfs + "/pids.txt", encoding: .utf8).split(separator: "\n").compactMap { Int($0) }
        // The step's shell is PID 1 of its namespace, beside ps/ls/grep only; img, runc and the container's
        // own processes are not there.
        #expect(ps.split(separator: "\n").contains { $0.split(separator: " ") == ["1", "sh"] }, "\(ps)")
        #expect(!ps.contains("img") && !ps.contains("runc"), "\(ps)")
        #expect(!pids.isEmpty && pids.allSatisfy { $0 < 10 }, "\(pids) \(ps)")
    }

    /// (c) Docker's default seccomp profile refuses the user namespace: one line that names the option.
    @Test func defaultSeccompProfileSaysWhichOptionToSet() throws {
        let env = try InContainerEnvironment.get()
        let result = try env.run(user: "1000", security: ["apparmor=unconfined"],
                                 "img build --progress plain -f /ctx/Dockerfile.plain /ctx")
        #expect(result.status != 0)
        let lines = result.stderr.split(separator: "\n").filter { $0.contains("seccomp=unconfined") }
        #expect(lines.count == 1 && lines[0].hasPrefix("error: cannot create a user namespace"), "\(result.stderr)")
    }

    /// (d) root in the container, without CAP_SYS_ADMIN: the same build in a user namespace mapping the
    /// container's ids to themselves. The state is on the container's own root (an overlayfs, which cannot
    /// hold an overlayfs upper directory): `auto` falls back to the native snapshotter.
    @Test func rootWithoutCapSysAdmin() throws {
        let env = try InContainerEnvironment.get()
        let out = try env.directory("out-root", owner: 0)
        let result = try env.run(user: "0", security: Self.unconfined, extra: "-v \(q(out)):/out",
                                 "img -d build --progress plain -t built /ctx && img save -o /out/built.tar built")
        try #require(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("snapshotter: native"), "\(result.stderr)")
        try checkMainCase(env, archive: out + "/built.tar")
    }

    /// (e) A uid with no subordinate range (OpenShift-style random uid): single-id mode builds what needs no
    /// other ids and names the step that does.
    @Test func randomUIDGetsSingleIDMode() throws {
        let env = try InContainerEnvironment.get()
        let state = try env.directory("state-random", owner: 123456)
        let mounts = "-v \(q(state)):/state -e HOME=/state/home"
        let plain = try env.run(user: "123456", security: Self.unconfined, extra: mounts,
                                "mkdir -p $HOME && img -s /state/img build --progress plain -t plain -f /ctx/Dockerfile.plain /ctx && img -s /state/img save -o /state/plain.tar plain")
        try #require(plain.status == 0, "\(plain.stderr)")
        let rootfs = try unpack(env, state + "/plain.tar", "plain")
        #expect((try? String(contentsOfFile: rootfs + "/hello", encoding: .utf8)) == "hello\n")
        let chown = try env.run(user: "123456", security: Self.unconfined, extra: mounts,
                                "mkdir -p $HOME && img -s /state/img build --progress plain -f /ctx/Dockerfile.chown /ctx")
        #expect(chown.status != 0)
        #expect(chown.stderr.contains("single id") && chown.stderr.contains("chown 1000"), "\(chown.stderr)")
    }

    /// (f) `-d` names the sandbox and the id mapping chosen, with proc masked (process-sandbox fallback) and
    /// unmasked (own PID namespace); the two sandboxes are told apart.
    @Test func debugOutputNamesSandboxAndIDMapping() throws {
        let env = try InContainerEnvironment.get()
        var sandboxes: [String] = []
        for security in [Self.unconfined, Self.unmasked] {
            let result = try env.run(user: "1000", security: security,
                                     "img -d build --progress plain -f /ctx/Dockerfile.plain /ctx")
            #expect(result.status == 0, "\(security): \(result.stderr)")
            let lines = result.stderr.split(separator: "\n").map(String.init)
            let sandbox = lines.first { $0.contains("] sandbox:") }
            #expect(sandbox != nil, "\(security): \(result.stderr)")
            #expect(lines.contains { $0.contains("] id mapping: subordinate ids") }, "\(security): \(result.stderr)")
            sandboxes.append(sandbox.map { String($0[$0.range(of: "] sandbox:")!.lowerBound...]) } ?? "")
        }
        #expect(sandboxes[0] != sandboxes[1], "\(sandboxes)")
    }

    /// The state directory on the container's own root (no volume over it): `auto` takes the native
    /// snapshotter and the build works.
    @Test func stateOnTheContainerRootFallsBackToNative() throws {
        let env = try InContainerEnvironment.get()
        let result = try env.run(user: "1000", security: Self.unmasked, extra: "-e XDG_DATA_HOME=/tmp/data",
                                 "img -d build --progress plain -f /ctx/Dockerfile.plain /ctx")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("snapshotter: native"), "\(result.stderr)")
    }

    /// The same small build inside the container (uid 1000, state on a volume) and on the host (root), each
    /// from an empty state; both times are printed for the record.
    @Test func smallBuildInsideAndOutsideTheContainer() throws {
        let env = try InContainerEnvironment.get()
        let state = try env.directory("state-timing", owner: 1000)
        var start = Date()
        let inside = try env.run(user: "1000", security: Self.unmasked, extra: "-v \(q(state)):/home/user/.local/share/img",
                                 "img build --progress plain -f /ctx/Dockerfile.plain /ctx")
        let insideSeconds = Date().timeIntervalSince(start)
        #expect(inside.status == 0, "\(inside.stderr)")
        start = Date()
        let outside = try env.hostImg(env.work + "/state-timing-host", "build --progress plain -f \(q(env.context + "/Dockerfile.plain")) \(q(env.context))")
        let outsideSeconds = Date().timeIntervalSince(start)
        #expect(outside.status == 0, "\(outside.stderr)")
        func built(_ r: ImgBinary.Result) -> String { r.stderr.split(separator: "\n").last { $0.hasPrefix("Built in") }.map(String.init) ?? "?" }
        print(String(format: "in-container timing: small build inside the container %.2f s wall (docker run included; img: %@), outside %.2f s wall (img: %@)",
                     insideSeconds, built(inside), outsideSeconds, built(outside)))
    }

    // MARK: the main case

    /// Builds ./Dockerfile in a container as `user`, saves it to a bind-mounted directory, checks it on the
    /// host, and pushes it to the host's registry when `push` names a repository:tag.
    func buildsTheMainCase(_ env: InContainerEnvironment, user: Int, security: [String], push: String?) throws {
        let tag = "case\(UUID().uuidString.prefix(8).lowercased())"
        let out = try env.directory("out-\(tag)", owner: user)
        let state = try env.directory("state-\(tag)", owner: user)
        var script = "img build --progress plain -t built /ctx && img save -o /out/built.tar built"
        if let push { script += " && img tag built \(env.registry)/\(push) && img push \(env.registry)/\(push)" }
        let result = try env.run(user: "\(user)", security: security,
                                 extra: "-v \(q(out)):/out -v \(q(state)):/home/user/.local/share/img", script)
        try #require(result.status == 0, "\(result.stderr)")
        try checkMainCase(env, archive: out + "/built.tar")
        if let push {
            let inspect = try SaveLoadTests.shell("skopeo inspect --tls-verify=false --config docker://\(env.registry)/\(push)")
            #expect(inspect.status == 0 && inspect.stdout.contains("STAGE=final"), "\(inspect.stdout) \(inspect.stderr)")
        }
    }

    /// The saved image of ./Dockerfile: files, owners, deletions and config as the Dockerfile says.
    func checkMainCase(_ env: InContainerEnvironment, archive: String) throws {
        let rootfs = try unpack(env, archive, "built")
        var info = stat()
        #expect(lstat(rootfs + "/home/app/owned", &info) == 0 && info.st_uid == 1000 && info.st_gid == 1000, "chown 1000:1000")
        #expect(lstat(rootfs + "/srv/artifact", &info) == 0 && info.st_uid == 0)
        #expect((try? String(contentsOfFile: rootfs + "/srv/artifact", encoding: .utf8)) == "built\n", "COPY --from")
        #expect(lstat(rootfs + "/gone", &info) != 0, "a file of an earlier layer, deleted")
        #expect(lstat(rootfs + "/bin/wget", &info) != 0, "a base file, deleted")
        #expect(lstat(rootfs + "/bin/sh", &info) == 0)
        let state = rootfs + "-state"
        let inspect = try env.hostImg(state, "inspect built")
        let config = Self.containerConfig(inspect.stdout)
        #expect((config?["Env"] as? [String])?.contains("STAGE=final") == true, "\(inspect.stdout)")
        #expect((config?["Labels"] as? [String: String])?["case"] == "in-container")
        #expect(config?["Cmd"] as? [String] == ["sh"])
        // Whiteouts in the layers themselves, not only absence in the unpacked tree.
        let layers = try SaveLoadTests.shell("mkdir -p \(q(state))/x && tar -xf \(q(archive)) -C \(q(state))/x && for b in $(find \(q(state))/x -type f); do tar -tzf \"$b\" 2>/dev/null || tar -tf \"$b\" 2>/dev/null; done")
        #expect(layers.stdout.contains(".wh.gone") && layers.stdout.contains("bin/.wh.wget"), "\(layers.stdout.suffix(2000))")
    }

    /// The container part of `img inspect`'s image config (its `config.config`).
    static func containerConfig(_ inspect: String) -> [String: Any]? {
        let json = try? JSONSerialization.jsonObject(with: Data(inspect.utf8)) as? [String: Any]
        return (json?["config"] as? [String: Any])?["config"] as? [String: Any]
    }

    /// Loads an archive into a fresh host store and unpacks `image`; returns the tree.
    func unpack(_ env: InContainerEnvironment, _ archive: String, _ image: String) throws -> String {
        let rootfs = env.work + "/unpacked-\(UUID().uuidString.prefix(8))"
        let state = rootfs + "-state"
        let loaded = try env.hostImg(state, "load -i \(q(archive))")
        try #require(loaded.status == 0, "\(loaded.stderr)")
        let unpacked = try env.hostImg(state, "unpack -o \(q(rootfs)) \(image)")
        try #require(unpacked.status == 0, "\(unpacked.stderr)")
        return rootfs
    }
}
