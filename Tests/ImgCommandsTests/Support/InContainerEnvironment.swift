import Foundation
import Glibc
import ImgTestSupport
import Testing

/// What the in-container tests share, made once per run of the suite and removed after it: img's image built
/// by the release img from the repository's `Dockerfile` over a debootstrapped `debian:bookworm-slim`, a
/// private dockerd (Debian's docker.io) with that image loaded, and a plain-HTTP `docker-registry` on the host.
final class InContainerEnvironment: @unchecked Sendable {
    // @unchecked: written only while the suite's scope sets it up, read by the serialized tests after.

    static let image = "img-incontainer:test"
    struct SetupFailed: Error, CustomStringConvertible { var description: String }

    @TaskLocal static var current: Result<InContainerEnvironment, any Error>?

    /// The repository root (this file is Tests/ImgCommandsTests/Support/InContainerEnvironment.swift).
    static let repository: String = {
        var url = URL(filePath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()
    static var releaseBinary: String { repository + "/.build/release/img" }
    /// Outside the repository's sources and never committed (.build is ignored): debootstrap takes minutes.
    static var cache: String { repository + "/.build/test-cache" }

    let work: String
    let context: String
    let config: String
    private(set) var registry = ""
    private(set) var dockerdPID: Int32 = 0
    private(set) var registryPID: Int32 = 0
    /// Seconds img took to build its own image on the host (for the report).
    private(set) var imageBuildSeconds = 0.0

    private init(work: String) {
        self.work = work
        context = work + "/ctx"
        config = work + "/config"
    }

    /// The environment for a test, or why it could not be made (a `MissingPrerequisite` among others).
    static func get() throws -> InContainerEnvironment {
        guard let current else { throw SetupFailed(description: "InContainerTests run inside their suite's scope") }
        return try current.get()
    }

    // MARK: set-up and tear-down

    static func start() -> (InContainerEnvironment?, Result<InContainerEnvironment, any Error>) {
        do {
            try checkPrerequisites()
            let work = try makeWorkDirectory()
            let environment = InContainerEnvironment(work: work)
            do {
                try environment.setUp()
                return (environment, .success(environment))
            } catch {
                return (environment, .failure(error))
            }
        } catch {
            return (nil, .failure(error))
        }
    }

    static func checkPrerequisites() throws { try Prerequisite.require(Prerequisite.inContainer) }

    static func makeWorkDirectory() throws -> String {
        let path = try makeTemporaryDirectory("img-incontainer")
        // The container's users (1000, 0, 123456) read the context and config below it.
        chmod(path, 0o755)
        return path
    }

    private func setUp() throws {
        try Self.ensureBase()
        try buildImage()
        try startDockerd()
        let loaded = try docker("load -i \(q(work + "/img.tar"))")
        guard loaded.status == 0 else { throw SetupFailed(description: "docker load: \(loaded.stderr)") }
        try startRegistry()
        try writeContext()
    }

    /// `debian:bookworm-slim` as a layer tar and a `FROM scratch` Dockerfile under .build/test-cache: a
    /// minbase debootstrap from the host's apt mirror, slimmed as the -slim images are.
    static func ensureBase() throws {
        let script = """
            set -e
            cache=\(q(cache)); mkdir -p "$cache"; cd "$cache"
            # One maker at a time: the in-container and SBOM tests may both ask for it at once.
            exec 9>.base.lock; flock 9
            if [ ! -f base-context/rootfs.tar ]; then
              if [ ! -d bookworm-minbase ]; then
                mirror=$(awk '/^URIs:/ {print $2; exit} /^deb / {print $2; exit}' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -1)
                rm -rf bookworm-minbase.tmp
                debootstrap --variant=minbase bookworm bookworm-minbase.tmp "${mirror:-http://deb.debian.org/debian}" > debootstrap.log 2>&1 \
                  || { tail -5 debootstrap.log >&2; exit 1; }
                mv bookworm-minbase.tmp bookworm-minbase
              fi
              st=stage; rm -rf "$st"; cp -a bookworm-minbase "$st"
              # No docs, locales, apt lists or logs; empty /dev, /proc, /sys, /run, /tmp.
              rm -rf "$st"/usr/share/doc/* "$st"/usr/share/man/* "$st"/usr/share/info/* "$st"/usr/share/locale/* \\
                     "$st"/usr/share/lintian "$st"/var/cache/apt/* "$st"/var/lib/apt/lists/* "$st"/var/log/* \\
                     "$st"/dev/* "$st"/proc/* "$st"/sys/* "$st"/run/* "$st"/tmp/*
              mkdir -p base-context
              (cd "$st" && tar --sort=name --numeric-owner -cf ../base-context/rootfs.tar.tmp $(ls -A))
              mv base-context/rootfs.tar.tmp base-context/rootfs.tar
              rm -rf "$st"
            fi
            printf 'FROM scratch\\nADD rootfs.tar /\\nENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\\nCMD ["bash"]\\n' > base-context/Dockerfile
            """
        let result = try SaveLoadTests.shell(script)
        guard result.status == 0 else { throw SetupFailed(description: "making the Debian base: \(result.stderr)") }
    }

    /// The base into a fresh store, then img's image from the repository's Dockerfile, saved for docker.
    private func buildImage() throws {
        let img = q(Self.releaseBinary), state = q(work + "/host-state")
        try must("\(img) -s \(state) build --progress plain -t debian:bookworm-slim \(q(Self.cache + "/base-context"))",
                 "importing the Debian base")
        let start = Date()
        try must("\(img) -s \(state) build --progress plain -t \(Self.image) \(q(Self.repository))", "img build of img's image")
        imageBuildSeconds = Date().timeIntervalSince(start)
        try must("\(img) -s \(state) save -o \(q(work + "/img.tar")) \(Self.image)", "img save")
    }

    var dockerDirectory: String { work + "/docker" }
    var dockerHost: String { "unix://\(dockerDirectory)/docker.sock" }

    /// dockerd with everything of its own under the work directory; no bridge and no iptables rules, so the
    /// host's network set-up is left alone (containers use --network host).
    private func startDockerd() throws {
        let dk = dockerDirectory
        let started = try SaveLoadTests.shell("""
            set -e; dk=\(q(dk)); mkdir -p "$dk"
            printf '{"bridge": "none", "iptables": false, "ip-masq": false}\\n' > "$dk/daemon.json"
            /usr/sbin/dockerd --config-file "$dk/daemon.json" --data-root "$dk/data" --exec-root "$dk/exec" \\
              --pidfile "$dk/dockerd.pid" -H "unix://$dk/docker.sock" < /dev/null > "$dk/dockerd.log" 2>&1 &
            echo $!
            """)
        dockerdPID = Int32(started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        guard started.status == 0, dockerdPID > 0 else { throw SetupFailed(description: "starting dockerd: \(started.stderr)") }
        let up = try SaveLoadTests.shell("""
            for i in $(seq 150); do
              DOCKER_HOST=\(q(dockerHost)) /usr/bin/docker version > /dev/null 2>&1 && exit 0
              kill -0 \(dockerdPID) 2> /dev/null || break; sleep 0.2
            done
            tail -5 \(q(dk + "/dockerd.log")) >&2; exit 1
            """)
        guard up.status == 0 else { throw SetupFailed(description: "dockerd did not come up: \(up.stderr)") }
    }

    private func startRegistry() throws {
        let dir = work + "/registry"
        for _ in 1...5 {
            let port = try LoopbackPort.free()
            let started = try SaveLoadTests.shell("""
                set -e; dir=\(q(dir)); mkdir -p "$dir"
                printf 'version: 0.1\\nlog: {level: warn, accesslog: {disabled: true}}\\nstorage: {filesystem: {rootdirectory: %s/storage}}\\nhttp: {addr: 127.0.0.1:%s, secret: img-test}\\n' "$dir" \(port) > "$dir/config.yml"
                /usr/bin/docker-registry serve "$dir/config.yml" < /dev/null > "$dir/registry.log" 2>&1 &
                echo $!
                """)
            registryPID = Int32(started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            let up = try SaveLoadTests.shell("""
                for i in $(seq 100); do
                  bash -c 'exec 3<> /dev/tcp/127.0.0.1/\(port)' 2> /dev/null && exit 0
                  kill -0 \(registryPID) 2> /dev/null || exit 1; sleep 0.1
                done; exit 1
                """)
            if up.status == 0 {
                registry = "127.0.0.1:\(port)"
                // Plain HTTP to it at once (img tries HTTPS first otherwise).
                try FileManager.default.createDirectory(atPath: config + "/img", withIntermediateDirectories: true)
                try "[registry.\"\(registry)\"]\nhttp = true\n".write(toFile: config + "/img/config.toml", atomically: true, encoding: .utf8)
                try must("chmod -R a+rX \(q(config))", "config permissions")
                return
            }
            // Lost the port to someone else: try another.
            if registryPID > 0 { kill(registryPID, SIGTERM); registryPID = 0 }
        }
        throw SetupFailed(description: "docker-registry did not start: \((try? String(contentsOfFile: dir + "/registry.log", encoding: .utf8)) ?? "")")
    }

    /// The build contexts the containers see at /ctx (read-only): busybox and one Dockerfile per case.
    private func writeContext() throws {
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: context + "/busybox")
        let base = "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"
        let files = [
            // chown to another id, a whiteout for a file of an earlier layer (and one of the base's), COPY --from.
            "Dockerfile": """
                FROM scratch AS tools
                COPY busybox /bin/busybox
                RUN ["/bin/busybox", "--install", "-s", "/bin"]
                RUN echo built > /artifact

                """ + base + """
                COPY --from=tools /artifact /srv/artifact
                RUN mkdir -p /home/app && echo data > /home/app/owned && chown 1000:1000 /home/app/owned && echo gone > /gone
                RUN rm /gone /bin/wget
                ENV STAGE=final
                LABEL case=in-container
                CMD ["sh"]

                """,
            "Dockerfile.ps": base + "RUN ps -o pid,comm > /ps.txt; ls /proc | grep -E '^[0-9]+$' > /pids.txt\n",
            "Dockerfile.plain": base + "RUN echo hello > /hello\n",
            "Dockerfile.chown": base + "RUN echo hello > /hello && chown 1000 /hello\n",
        ]
        for (name, text) in files { try text.write(toFile: context + "/" + name, atomically: true, encoding: .utf8) }
        try must("chmod -R a+rX \(q(context))", "context permissions")
    }

    /// Stops dockerd and the registry (only the processes started here) and removes the work directory.
    func stop() {
        for pid in [dockerdPID, registryPID] where pid > 0 {
            kill(pid, SIGTERM)
            // They were started by a shell that exited: not our children, so poll instead of waitpid.
            for _ in 0..<150 where kill(pid, 0) == 0 { usleep(200_000) }
            if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
        }
        // dockerd leaves its netns and overlay mounts behind when stopped; unmount before deleting.
        _ = try? SaveLoadTests.shell("""
            grep -o ' \(work)/[^ ]*' /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2> /dev/null; done
            rm -rf --one-file-system \(q(work))
            """)
    }

    // MARK: helpers for the tests

    /// `/usr/bin/docker ARGS` against the private dockerd (ARGS is shell text).
    func docker(_ arguments: String) throws -> ImgBinary.Result {
        try SaveLoadTests.shell("DOCKER_HOST=\(q(dockerHost)) timeout 900 /usr/bin/docker \(arguments)")
    }

    /// `docker run --rm` of img's image as `user` with `security` options, /ctx and /config mounted, running
    /// `script` with /bin/sh (so one container can build, save and push). `extra` is more `docker run` options.
    func run(user: String, security: [String], extra: String = "", _ script: String) throws -> ImgBinary.Result {
        let options = security.map { "--security-opt \($0)" }.joined(separator: " ")
        return try docker("""
            run --rm --pull never --network host -u \(user) \(options) \
            -v \(q(context)):/ctx:ro -v \(q(config)):/config:ro -e XDG_CONFIG_HOME=/config \(extra) \
            --entrypoint /bin/sh \(Self.image) -c \(q(script))
            """)
    }

    /// A fresh directory under the work directory owned by `uid` (a state directory or an output directory
    /// to bind-mount).
    func directory(_ name: String, owner uid: Int) throws -> String {
        let path = work + "/" + name
        try must("mkdir -p \(q(path)) && chown \(uid):\(uid) \(q(path))", "mkdir \(name)")
        return path
    }

    /// The release img on the host (`-s STATE ARGS`, ARGS shell text).
    func hostImg(_ state: String, _ arguments: String) throws -> ImgBinary.Result {
        try SaveLoadTests.shell("\(q(Self.releaseBinary)) -s \(q(state)) \(arguments)")
    }

    @discardableResult
    func must(_ command: String, _ what: String) throws -> ImgBinary.Result {
        let result = try SaveLoadTests.shell(command)
        guard result.status == 0 else {
            throw SetupFailed(description: "\(what) failed (exit \(result.status)): \(result.stderr.suffix(3000))")
        }
        return result
    }
}

/// Shell single quotes.
func q(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

/// Sets the suite's environment up once around all its tests and removes it after them.
struct InContainerScope: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let (environment, result) = InContainerEnvironment.start()
        defer { environment?.stop() }
        if let environment {
            print("in-container: img built its own image in \(String(format: "%.1f", environment.imageBuildSeconds)) s")
        }
        try await InContainerEnvironment.$current.withValue(result) { try await function() }
    }
}

extension Trait where Self == InContainerScope {
    static var inContainerEnvironment: Self { InContainerScope() }
}

extension Prerequisite {
    /// What the in-container tests start and put into img's image: root for dockerd, Debian's docker.io,
    /// debootstrap, docker-registry, static busybox, skopeo, getcap, and the release img.
    static let inContainer: [Prerequisite] = [
        .root, .executable("/usr/sbin/dockerd", package: "docker.io"), .executable("/usr/bin/docker", package: "docker.io"),
        .executable("/usr/sbin/debootstrap", package: "debootstrap"), .executable("/usr/bin/docker-registry", package: "docker-registry"),
        .busybox, .executable("/usr/bin/skopeo", package: "skopeo"), .executable("/usr/sbin/getcap", package: "libcap2-bin"),
        Prerequisite("\(InContainerEnvironment.releaseBinary) (swift build -c release --static-swift-stdlib --product img; scripts/test does)") {
            access(InContainerEnvironment.releaseBinary, X_OK) == 0 ? InContainerEnvironment.releaseBinary : nil
        },
    ]
}
