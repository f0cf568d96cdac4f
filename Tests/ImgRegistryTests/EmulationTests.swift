import Foundation
import Glibc
import ImgOCI
import ImgRegistry
import Testing
import ImgTestSupport

/// RUN for another architecture through Debian's qemu-user-static, registered with binfmt_misc by the test
/// itself when the host has not (and put back after), as root and as an ordinary user; and without an
/// emulator, the error that says how to get one. Serialized: binfmt_misc is the whole machine's.
@Suite(.serialized) struct EmulationTests {
    static let platforms = "linux/amd64,linux/arm64,linux/arm/v7"
    static let prerequisites: [Prerequisite] = [.imgBinary, .busybox, .foreignBusybox("arm64"), .foreignBusybox("armhf"),
                                                .qemuUserStatic, .skopeo]

    /// A context whose Dockerfile starts from scratch with the target's own busybox (Debian's, for each
    /// architecture) and RUNs it: each RUN of a foreign platform is a program the host kernel cannot run.
    static func context() throws -> TemporaryDirectory {
        let context = try TemporaryDirectory("img-emulation-context")
        for (name, path) in [("amd64", "/bin/busybox"), ("arm64", "/usr/local/lib/img-tests/arm64/busybox"),
                             ("armv7", "/usr/local/lib/img-tests/armhf/busybox")] {
            try FileManager.default.copyItem(atPath: path, toPath: context.file("busybox-\(name)"))
        }
        try Data("""
            FROM scratch
            ARG TARGETARCH
            ARG TARGETVARIANT
            COPY busybox-$TARGETARCH$TARGETVARIANT /bin/busybox
            SHELL ["/bin/busybox", "sh", "-c"]
            RUN /bin/busybox mkdir -p /etc && /bin/busybox uname -m > /etc/machine
            RUN /bin/busybox --install -s /bin && echo "ran on $(uname -m)" >> /etc/machine
            """.utf8).write(to: URL(filePath: context.file("Dockerfile")))
        return context
    }

    /// Whether the plain progress titles the second RUN with `platform`, as BuildKit does.
    static func titled(_ progress: String, _ platform: String) -> Bool {
        progress.split(separator: "\n").contains { $0.contains("[\(platform) ") && $0.contains("] RUN /bin/busybox --install") }
    }

    /// What each platform's RUNs wrote: its own machine name, as the emulator reports it.
    static let machines = ["linux_amd64": "x86_64", "linux_arm64": "aarch64", "linux_arm_v7": "armv7l"]

    static func checkLocal(_ local: String) {
        for (directory, machine) in machines {
            let written = try? String(contentsOfFile: "\(local)/\(directory)/etc/machine", encoding: .utf8)
            #expect(written == "\(machine)\nran on \(machine)\n", "\(directory)")
        }
    }

    /// The index skopeo reads: three platforms, arm with its variant.
    static func checkIndex(_ raw: (status: Int32, stdout: [UInt8], stderr: [UInt8])) throws {
        #expect(raw.status == 0, "\(String(decoding: raw.stderr, as: UTF8.self))")
        let index = try JSONDecoder().decode(Index.self, from: Data(raw.stdout))
        // A push attaches provenance by default: an attestation manifest after the images, for each.
        let images = index.manifests.filter { !Attestation.isAttestationManifest($0) }
        #expect(images.compactMap(\.platform).map(\.description) == ["linux/amd64", "linux/arm64", "linux/arm/v7"])
    }

    @Test(.needs(prerequisites + [.dockerRegistry, .python3]))
    func aMultiPlatformBuildRunsEachPlatformsStepsUnderEmulation() async throws {
        try Prerequisite.require(Self.prerequisites + [.dockerRegistry, .python3])
        try await withRegistry { registry in
            let context = try Self.context()
            defer { context.remove() }
            let img = try CommandLineRegistryTests.Img()
            defer { img.remove() }
            let target = "\(registry.host)/test/emulated:v1"
            let local = img.state.file("local")
            let build = try await Binfmt.withEmulators(["qemu-aarch64", "qemu-arm"]) {
                try img(["build", "--progress", "plain", "--platform", Self.platforms,
                         "-o", "type=image,name=\(target),push=true", "-o", "type=local,dest=\(local)", context.path])
            }
            #expect(build.status == 0, "\(build.err)")
            #expect(Self.titled(build.err, "linux/arm/v7"), "\(build.err)")
            Self.checkLocal(local)
            try Self.checkIndex(try HelperProcess.run("skopeo", ["inspect", "--tls-verify=false", "--raw", "docker://\(target)"]))
            let inspect = try HelperProcess.run("skopeo", ["inspect", "--tls-verify=false", "--override-arch", "arm",
                                                           "--override-variant", "v7", "--config", "docker://\(target)"])
            #expect(inspect.status == 0, "\(String(decoding: inspect.stderr, as: UTF8.self))")
            let config = try JSONDecoder().decode(ImageConfig.self, from: Data(inspect.stdout))
            #expect(config.architecture == "arm" && config.variant == "v7")
            #expect(config.rootfs.diffIDs.count == 3)
        }
    }

    @Test(.needs(prerequisites + [.runc, .rootlessTestUsers]))
    func aRootlessMultiPlatformBuildRunsUnderEmulation() async throws {
        try Prerequisite.require(Self.prerequisites + [.runc, .rootlessTestUsers])
        try TestUsers.ensureWithRange()
        let context = try Self.context()
        defer { context.remove() }
        let out = try TemporaryDirectory("img-emulation-rootless")
        defer { out.remove() }
        // The test user must reach the context and its own state and output directories.
        for dir in [context.path, out.path] {
            try run("sh", ["-c", "chmod 755 '\(dir)' && chown -R \(TestUsers.withRange) '\(dir)'"])
        }
        let archive = out.file("multi.oci.tar"), local = out.file("local")
        let command = "cd /tmp && '\(ImgBinary.url.path)' -s '\(out.file("state"))' build --progress plain --platform \(Self.platforms)"
            + " -o type=oci,dest='\(archive)' -o type=local,dest='\(local)' '\(context.path)'"
        let build = try await Binfmt.withEmulators(["qemu-aarch64", "qemu-arm"]) {
            try HelperProcess.run("/usr/sbin/runuser", ["-u", TestUsers.withRange, "--", "sh", "-c", command])
        }
        let err = String(decoding: build.stderr, as: UTF8.self)
        #expect(build.status == 0, "\(err)")
        #expect(Self.titled(err, "linux/arm64"), "\(err)")
        Self.checkLocal(local)
        try Self.checkIndex(try HelperProcess.run("skopeo", ["inspect", "--raw", "oci-archive:\(archive)"]))
    }

    @Test(.needs(.imgBinary, .busybox))
    func aRunWithoutAnEmulatorSaysHowToRegisterOne() async throws {
        try Prerequisite.require(.imgBinary, .busybox)
        let context = try TemporaryDirectory("img-no-emulator-context")
        defer { context.remove() }
        let img = try CommandLineRegistryTests.Img()
        defer { img.remove() }
        // An ELF header for aarch64 is all it takes: with no handler for it the kernel says exec format error.
        var elf = [UInt8](repeating: 0, count: 64)
        elf.replaceSubrange(0..<8, with: [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0])
        elf[16] = 2; elf[18] = 0xb7; elf[20] = 1                       // ET_EXEC, EM_AARCH64, EV_CURRENT
        try Data(elf).write(to: URL(filePath: context.file("sh")))
        try Data("FROM scratch\nCOPY --chmod=755 sh /bin/sh\nRUN true\n".utf8).write(to: URL(filePath: context.file("Dockerfile")))
        // Switched off for the build if the host has qemu-aarch64 registered (and back on after).
        let (foreign, host) = try await Binfmt.withoutEmulator("qemu-aarch64") {
            (try img(["build", "--progress", "plain", "--platform", "linux/arm64", "-t", "foreign", context.path]),
             try img(["build", "--progress", "plain", "-t", "host", context.path]))
        }
        #expect(foreign.status == 1)
        let last = foreign.err.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("error: ") && last.contains("Dockerfile:3: RUN exited with code 1: true"), "\(foreign.err)")
        #expect(foreign.err.contains("exec /bin/sh: exec format error"), "\(foreign.err)")
        #expect(last.hasSuffix("(RUN for linux/arm64 on this linux/amd64 host needs an emulator registered with binfmt_misc:"
            + " install Debian's qemu-user-static and binfmt-support; as root, mount binfmt_misc if /proc/sys/fs/binfmt_misc"
            + " is empty (mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc) and register it"
            + " (update-binfmts --enable qemu-aarch64))"), "\(foreign.err)")
        // On the host's own platform the same failure gets no such hint.
        #expect(host.status == 1)
        #expect(!host.err.contains("needs an emulator"), "\(host.err)")
    }
}
