import Foundation
import Glibc
import ImgSystem
import Testing
import ImgTestSupport

/// `img build` as an ordinary user with a subuid range: img enters its user namespace itself, RUN is root
/// inside it, chown to other ids works, and what the image records is the container's ids.
@Suite(.serialized, .needs(.busybox, .runc, .rootlessTestUsers)) struct RootlessBuildTests {
    static let user = TestUsers.withRange

    static func uid() throws -> UInt32 {
        guard let entry = getpwnam(user) else { throw BuildFixtureError("no user \(user)") }
        return entry.pointee.pw_uid
    }

    /// Creates `imgtest` with a 65536-id subordinate range if it is not there (`TestUsers`).
    static func ensureUser() throws { try TestUsers.ensureWithRange() }

    @Test(arguments: ["auto", "native", "overlayfs", "fuse-overlayfs"])
    func rootlessBuildKeepsOwnersAndRunsAsRoot(backend: String) throws {
        // The snapshot suite changes /dev/fuse's mode while it runs: take turns with it.
        let lock = try FileLock(path: "/tmp/img-tests-dev-fuse.lock")
        defer { lock.unlock() }
        try Self.ensureUser()
        // Debian makes /dev/fuse 0666; some containers hand it out 0600, which only root can use. Put back after.
        let fuse = try DeviceMode(path: "/dev/fuse", wanted: backend == "fuse-overlayfs" ? 0o666 : nil)
        defer { fuse.restore() }
        let f = try BuildFixture()
        try f.write("Dockerfile", BuildTests.base + """
            RUN id -u > /uid && mkdir -p /home/dev && touch /home/dev/f && chown -R 1000:1000 /home/dev
            RUN rm /bin/wget && mv /uid /uid-moved && mkdir -p /d/e && rmdir /d/e
            COPY Dockerfile /Dockerfile
            """)
        // The test user must be able to reach the context and its own state directory.
        #expect(try SaveLoadTests.shell("chmod 755 '\(f.dir.url.path)' && chown -R \(Self.user) '\(f.dir.url.path)'").status == 0)
        let output = f.dir.url.appending(path: "rootfs.tar").path
        let command = "cd /tmp && '\(ImgBinary.url.path)' -s '\(f.state)' -b \(backend) build --progress plain -t rootless -o type=tar,dest='\(output)' '\(f.context.path)'"
        let result = try SaveLoadTests.shell("runuser -u \(Self.user) -- sh -c \"\(command.replacingOccurrences(of: "\"", with: "\\\""))\"")
        #expect(result.status == 0, "\(result.stderr)")
        let listing = try SaveLoadTests.shell("tar -tvf '\(output)'")
        #expect(listing.stdout.contains("1000/1000") && listing.stdout.contains("home/dev/f"), "\(listing.stdout)")
        #expect(!listing.stdout.contains("bin/wget"))
        let uid = try SaveLoadTests.shell("tar -xOf '\(output)' --wildcards '*uid-moved'")
        #expect(uid.stdout == "0\n", "RUN is root inside the namespace")
        // The image's layers carry container ids, not the host's subordinate ids: saved by the user, loaded
        // into a root-owned store and unpacked by root, which writes the layers' ids as they are.
        let archive = f.dir.url.appending(path: "rootless.tar").path
        #expect(try SaveLoadTests.shell("runuser -u \(Self.user) -- '\(ImgBinary.url.path)' -s '\(f.state)' save -o '\(archive)' rootless").status == 0)
        let rootState = f.dir.url.appending(path: "root-state").path
        #expect(try ImgBinary.run(["-s", rootState, "load", "-i", archive]).status == 0)
        let rootfs = f.dir.url.appending(path: "unpacked").path
        #expect(try ImgBinary.run(["-s", rootState, "unpack", "-o", rootfs, "rootless"]).status == 0)
        var info = stat()
        #expect(lstat(rootfs + "/home/dev/f", &info) == 0 && info.st_uid == 1000 && info.st_gid == 1000)
        // Nothing of the build is left mounted.
        #expect(!BuildTests.mountsMention(f.state))
        // The user's prune removes the snapshots, files of subordinate ids (1000 inside) included: it does
        // so inside img's namespace.
        let prune = try SaveLoadTests.shell("cd /tmp && runuser -u \(Self.user) -- '\(ImgBinary.url.path)' -s '\(f.state)' prune")
        #expect(prune.status == 0, "\(prune.stderr)")
        for format in ["overlay", "native"] {
            let left = (try? FileManager.default.contentsOfDirectory(atPath: f.state + "/snapshots/" + format)) ?? []
            #expect(left.isEmpty, "\(format): \(left) \(prune.stdout) \(prune.stderr)")
        }
    }

    /// `img build` as an ordinary user enters the namespace in its start-up shim, without a second img
    /// process; where the shim cannot (no newuidmap on PATH) the re-exec path says what to install, and a
    /// helper that fails after the unshare is one line and exit status 125, with nothing in the state dir.
    @Test func theStartupShimEntersTheNamespaceOrSaysWhy() throws {
        try Self.ensureUser()
        let f = try BuildFixture()
        try f.write("Dockerfile", BuildTests.base + "RUN id -u > /uid\n")
        #expect(try SaveLoadTests.shell("chmod 755 '\(f.dir.url.path)' && chown -R \(Self.user) '\(f.dir.url.path)'").status == 0)
        func asUser(_ environment: String, _ arguments: String) throws -> ImgBinary.Result {
            try SaveLoadTests.shell("cd /tmp && runuser -u \(Self.user) -- env \(environment) '\(ImgBinary.url.path)' -s '\(f.state)' \(arguments)")
        }
        let built = try asUser("", "-d build --progress plain -t direct '\(f.context.path)'")
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stderr.contains("user namespace: entered at start-up, ids mapped by newuidmap/newgidmap (no re-exec)"), "\(built.stderr)")

        // No newuidmap on PATH (only runc): no subordinate range can be used, so the shim maps the caller
        // alone (single-id mode), says so, and a build whose RUN needs no other id works.
        let runcOnly = f.dir.url.appending(path: "runc-only").path
        #expect(try SaveLoadTests.shell("mkdir -p '\(runcOnly)' && ln -s \"$(command -v runc)\" '\(runcOnly)/runc' && chmod 755 '\(runcOnly)'").status == 0)
        let single = try asUser("PATH=\(runcOnly)", "-d build --no-cache --progress plain -t single '\(f.context.path)'")
        #expect(single.status == 0, "\(single.stderr)")
        #expect(single.stderr.contains("warning: no subordinate id range (or no newuidmap) for uid \(try Self.uid()): building with a single id"), "\(single.stderr)")
        #expect(single.stderr.contains("id mapping: single id: only uid \(try Self.uid()) as 0"), "\(single.stderr)")
        let stateBefore = try SaveLoadTests.shell("find '\(f.state)' | sort").stdout

        // A newuidmap that refuses (a broken, non-setuid install), first on PATH: past the unshare there is
        // no way back, so the shim says so and exits 125.
        let fakes = f.dir.url.appending(path: "fakes").path
        #expect(try SaveLoadTests.shell("""
            mkdir -p '\(fakes)' && printf '#!/bin/sh\\necho "newuidmap: write to uid_map failed: Operation not permitted" >&2\\nexit 1\\n' > '\(fakes)/newuidmap' \
            && cp /usr/bin/newgidmap '\(fakes)/newgidmap' && chmod 755 '\(fakes)' '\(fakes)/newuidmap'
            """).status == 0)
        let refused = try asUser("PATH=\(fakes):/usr/bin:/bin", "build -t direct '\(f.context.path)'")
        #expect(refused.status == 125)
        let lines = refused.stderr.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("img: entering the user namespace: \(fakes)/newuidmap or \(fakes)/newgidmap failed: check that they are setuid root (reinstall Debian package uidmap)") }, "\(refused.stderr)")
        #expect(lines.contains("newuidmap: write to uid_map failed: Operation not permitted"))
        #expect(try SaveLoadTests.shell("find '\(f.state)' | sort").stdout == stateBefore)
    }

    /// A multi-platform build as an ordinary user: both platforms' steps run in img's namespace, the OCI
    /// archive holds one index over both, type=local a directory per platform.
    @Test func rootlessMultiPlatformBuild() throws {
        try Self.ensureUser()
        let f = try BuildFixture()
        try f.write("Dockerfile", """
            FROM scratch
            ARG TARGETARCH
            COPY Dockerfile /etc/built-from
            LABEL arch=$TARGETARCH
            """)
        #expect(try SaveLoadTests.shell("chmod 755 '\(f.dir.url.path)' && chown -R \(Self.user) '\(f.dir.url.path)'").status == 0)
        let archive = f.dir.url.appending(path: "multi.tar").path, local = f.dir.url.appending(path: "local").path
        let command = "cd /tmp && '\(ImgBinary.url.path)' -s '\(f.state)' build --progress plain --platform linux/amd64,linux/arm64 -o type=oci,dest='\(archive)' -o type=local,dest='\(local)' '\(f.context.path)'"
        let result = try SaveLoadTests.shell("runuser -u \(Self.user) -- sh -c \"\(command.replacingOccurrences(of: "\"", with: "\\\""))\"")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("[linux/arm64 3/4] COPY Dockerfile /etc/built-from"), "\(result.stderr)")
        for directory in ["linux_amd64", "linux_arm64"] {
            #expect(FileManager.default.fileExists(atPath: "\(local)/\(directory)/etc/built-from"), "\(directory)")
        }
        // index.json names one index; that index lists both platforms, each with its own config.
        let layout = try SaveLoadTests.shell("tar -xOf '\(archive)' index.json")
        let top = try JSONSerialization.jsonObject(with: Data(layout.stdout.utf8)) as? [String: Any]
        let root = ((top?["manifests"] as? [[String: Any]])?.first?["digest"] as? String) ?? ""
        #expect(root.hasPrefix("sha256:"), "\(layout.stdout)")
        let index = try SaveLoadTests.shell("tar -xOf '\(archive)' blobs/sha256/\(root.dropFirst(7))")
        let manifests = (try JSONSerialization.jsonObject(with: Data(index.stdout.utf8)) as? [String: Any])?["manifests"] as? [[String: Any]]
        let architectures = manifests?.compactMap { ($0["platform"] as? [String: Any])?["architecture"] as? String }
        #expect(architectures == ["amd64", "arm64"], "\(index.stdout)")
        #expect(!BuildTests.mountsMention(f.state))
    }
}
