import Foundation
import ImgContent
import ImgOCI
import ImgRegistry
import Testing
import ImgTestSupport

/// `img pull`, `push`, `login` and `logout` through the real binary against a real registry. Every run gets
/// its own HOME, config and state directories so nothing of the machine's own set-up is read or changed.
@Suite struct CommandLineRegistryTests {
    struct Img {
        let state: TemporaryDirectory
        let config: TemporaryDirectory
        var environment: [String: String] {
            var env = ProcessInfo.processInfo.environment
            env["HOME"] = config.path
            env["XDG_CONFIG_HOME"] = config.file("xdg")
            env["DOCKER_CONFIG"] = config.file("docker")
            return env
        }

        static let binary = ImgBinary.url.path

        init() throws {
            state = try TemporaryDirectory("img-cli-state")
            config = try TemporaryDirectory("img-cli-config")
        }

        func callAsFunction(_ args: [String], input: String = "") throws -> (status: Int32, out: String, err: String) {
            let r = try HelperProcess.run(Img.binary, ["-s", state.path] + args, input: Array(input.utf8), environment: environment)
            return (r.status, String(decoding: r.stdout, as: UTF8.self), String(decoding: r.stderr, as: UTF8.self))
        }

        func remove() {
            state.remove()
            config.remove()
        }
    }

    @Test(.needs(.imgBinary, .dockerRegistry, .python3, .busybox, .tar, .gzip, .skopeo))
    func pullListUnpackTagPushAndSkopeoReadsIt() async throws {
        try Prerequisite.require(.imgBinary, .dockerRegistry, .python3, .busybox, .tar, .gzip, .skopeo)
        try await withRegistry { registry in
            let image = try TestImage.make(in: registry.dir)
            let source = try registry.reference("test/busybox:v1")
            try await withClient(settings: registry.settings()) { client in
                _ = try await client.pushImage(source, root: image.root) { try image.content($0) }
            }
            let img = try Img()
            defer { img.remove() }

            let pull = try img(["pull", "\(registry.host)/test/busybox:v1"])
            #expect(pull.status == 0, "\(pull.err)")
            #expect(pull.out.contains("Digest: \(image.root.digest)"))
            let ls = try img(["ls"])
            #expect(ls.out.contains("\(registry.host)/test/busybox:v1 "))
            #expect(ls.out.contains(image.root.digest.description))

            let rootfs = img.state.file("rootfs")
            let unpack = try img(["unpack", "-o", rootfs, "\(registry.host)/test/busybox:v1"])
            #expect(unpack.status == 0, "\(unpack.err)")
            #expect(FileManager.default.isExecutableFile(atPath: rootfs + "/bin/busybox"))

            // Pulling again transfers nothing new and still succeeds.
            #expect(try img(["pull", "\(registry.host)/test/busybox:v1"]).status == 0)

            #expect(try img(["tag", "\(registry.host)/test/busybox:v1", "\(registry.host)/other/copy:v2"]).status == 0)
            let push = try img(["push", "\(registry.host)/other/copy:v2"])
            #expect(push.status == 0, "\(push.err)")
            #expect(push.out.contains("v2: digest: \(image.root.digest)"))
            // The pull noted where the layer came from: the push mounts it instead of uploading it.
            let layer = image.layer.descriptor.digest.hex.prefix(12)
            #expect(push.out.contains("The push refers to repository [\(registry.host)/other/copy]"))
            #expect(push.out.contains("\(layer): Mounted from test/busybox\n"), "\(push.out)")
            let again = try img(["push", "\(registry.host)/other/copy:v2"])
            #expect(again.status == 0 && again.out.contains("\(layer): Layer already exists\n"), "\(again.out)")
            #expect(try img(["tag", "\(registry.host)/test/busybox:v1", "\(registry.host)/third/copy:v3"]).status == 0)
            let third = try img(["push", "\(registry.host)/third/copy:v3"])
            #expect(third.status == 0 && third.out.contains("\(layer): Mounted from other/copy\n"), "\(third.out)")
            let skopeo = try HelperProcess.run(try Prerequisite.skopeo.require(), ["inspect", "--tls-verify=false", "--raw",
                                                                  "docker://\(registry.host)/other/copy:v2"])
            #expect(skopeo.status == 0, "\(String(decoding: skopeo.stderr, as: UTF8.self))")
            #expect(Digest.sha256(of: skopeo.stdout) == image.root.digest)

            let missing = try img(["pull", "\(registry.host)/test/nothing:here"])
            #expect(missing.status == 1)
            #expect(missing.err == "error: not found: \(registry.host)/test/nothing:here\n")
            #expect(try img(["ls"]).out.split(separator: "\n").count == 4, "a failed pull records nothing")
            let badRef = try img(["pull", "Upper/Case"])
            #expect(badRef.status == 1 && badRef.err.contains("must be lowercase"))
        }
    }

    @Test(.needs(.imgBinary, .dockerRegistry, .python3, .htpasswd, .openssl))
    func loginVerifiesThenStoresAndLogoutForgets() async throws {
        try Prerequisite.require(.imgBinary, .dockerRegistry, .python3, .htpasswd, .openssl)
        try await withRegistry(.tlsBasic(user: "alice", password: "s3cret")) { registry in
            let img = try Img()
            defer { img.remove() }
            // Trust the test's CA the way a user would: certs.d under img's config directory.
            let certs = img.config.file("xdg/img/certs.d/\(registry.host)")
            try FileManager.default.createDirectory(atPath: certs, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: registry.caPath!, toPath: certs + "/ca.crt")

            let wrong = try img(["login", "-u", "alice", "--password-stdin", registry.host], input: "nope\n")
            #expect(wrong.status == 1)
            #expect(wrong.err.hasPrefix("error: unauthorized"), "\(wrong.err)")
            #expect(!FileManager.default.fileExists(atPath: img.config.file("docker/config.json")))

            let warned = try img(["login", "-u", "alice", "-p", "s3cret", registry.host])
            #expect(warned.status == 0, "\(warned.err)")
            #expect(warned.err.contains("WARNING! Using --password via the CLI is insecure"))
            let ok = try img(["login", "-u", "alice", "--password-stdin", registry.host], input: "s3cret\n")
            #expect(ok.status == 0, "\(ok.err)")
            #expect(ok.out == "Login Succeeded\n")
            let configPath = img.config.file("docker/config.json")
            let attributes = try FileManager.default.attributesOfItem(atPath: configPath)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(filePath: configPath))) as? [String: Any]
            let auth = ((config?["auths"] as? [String: Any])?[registry.host] as? [String: Any])?["auth"] as? String
            #expect(auth == Data("alice:s3cret".utf8).base64EncodedString())

            let logout = try img(["logout", registry.host])
            #expect(logout.out == "Removing login credentials for \(registry.host)\n")
            #expect(try img(["logout", registry.host]).out == "Not logged in to \(registry.host)\n")
        }
    }

    /// A pull into a full disk (a 6 MiB tmpfs as the state directory, an 8 MiB incompressible layer) says
    /// what happened, `no space left on device writing PATH`, records nothing, and the same pull succeeds
    /// once there is room. The tmpfs lives in a mount namespace of the shell that runs the steps.
    @Test(.needs(.imgBinary, .dockerRegistry, .python3, .busybox, .tar, .gzip, .root))
    func pullIntoAFullDiskSaysNoSpaceAndRecordsNothing() async throws {
        try Prerequisite.require(.imgBinary, .dockerRegistry, .python3, .busybox, .tar, .gzip, .root)
        try await withRegistry { registry in
            let image = try TestImage.make(in: registry.dir, padding: 8 << 20)
            try await withClient(settings: registry.settings()) { client in
                _ = try await client.pushImage(try registry.reference("test/full:v1"), root: image.root) { try image.content($0) }
            }
            let img = try Img()
            defer { img.remove() }
            let out = try TemporaryDirectory("img-full-pull")
            let state = img.state.file("small")
            let name = "\(registry.host)/test/full:v1"
            let script = """
                set -u
                mkdir -p '\(state)' && mount -t tmpfs -o size=6m tmpfs '\(state)' || exit 99
                '\(Img.binary)' -s '\(state)' pull '\(name)' > '\(out.file("pull1.out"))' 2> '\(out.file("pull1.err"))'; echo $? > '\(out.file("pull1.rc"))'
                '\(Img.binary)' -s '\(state)' ls > '\(out.file("ls1.out"))' 2>&1
                mount -o remount,size=64m '\(state)' || exit 98
                '\(Img.binary)' -s '\(state)' pull '\(name)' > '\(out.file("pull2.out"))' 2> '\(out.file("pull2.err"))'; echo $? > '\(out.file("pull2.rc"))'
                '\(Img.binary)' -s '\(state)' ls > '\(out.file("ls2.out"))' 2>&1
                """
            let run = try HelperProcess.run("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", script],
                                            input: [], environment: img.environment)
            #expect(run.status == 0, "\(String(decoding: run.stderr, as: UTF8.self))")
            func read(_ name: String) -> String { (try? String(contentsOfFile: out.file(name), encoding: .utf8)) ?? "" }
            #expect(read("pull1.rc") == "1\n", "\(read("pull1.err"))")
            let errors = read("pull1.err").split(separator: "\n").filter { $0.hasPrefix("error: ") }
            #expect(errors.count == 1 && errors[0].contains("no space left on device writing \(state)/"), "\(read("pull1.err"))")
            #expect(!read("pull1.err").contains("ingest is no longer open"), "\(read("pull1.err"))")
            #expect(read("ls1.out").split(separator: "\n").count == 1, "a pull that ran out of space records no image: \(read("ls1.out"))")
            #expect(read("pull2.rc") == "0\n", "\(read("pull2.err"))")
            #expect(read("pull2.out").contains("Digest: \(image.root.digest)"), "\(read("pull2.out"))")
            #expect(read("ls2.out").contains(name + " ") || read("ls2.out").contains("test/full"), "\(read("ls2.out"))")
        }
    }

    /// `kill -9` of a pull halfway through a layer, then the same pull again: it succeeds, resumes the
    /// partial layer with a Range request, and every stored blob matches its digest.
    @Test(.needs(.imgBinary, .dockerRegistry, .python3, .busybox, .tar, .gzip))
    func killedPullResumesAndStoresOnlyVerifiedBlobs() async throws {
        try Prerequisite.require(.imgBinary, .dockerRegistry, .python3, .busybox, .tar, .gzip)
        try await withRegistry { registry in
            let image = try TestImage.make(in: registry.dir, padding: 6 << 20)
            try await withClient(settings: registry.settings()) { client in
                _ = try await client.pushImage(try registry.reference("test/big:v1"), root: image.root) { try image.content($0) }
            }
            let proxy = try await FaultProxy(before: registry, faults: ["slow=0.04"])
            defer { proxy.stop() }
            let img = try Img()
            defer { img.remove() }
            let name = "\(proxy.host)/test/big:v1"

            let child = try HelperProcess.spawn(Img.binary, ["-s", img.state.path, "pull", name],
                                               environment: img.environment, stdout: .null, stderr: .null)
            // Wait until a layer is partly downloaded, then kill without warning.
            let ingest = img.state.file("content/ingest")
            var partial = false
            for _ in 0..<3000 where !partial {
                let sizes = ((try? FileManager.default.contentsOfDirectory(atPath: ingest)) ?? []).compactMap {
                    (try? FileManager.default.attributesOfItem(atPath: ingest + "/" + $0)[.size] as? NSNumber)?.int64Value
                }
                partial = sizes.contains { $0 > 256 << 10 && $0 < image.layer.descriptor.size }
                // A blocking sleep keeps this thread: with Task.sleep a busy cooperative pool (the other
                // suites) could resume the watch only after the whole pull had finished.
                if !partial { usleep(10_000) }
            }
            #expect(partial, "the pull never got halfway")
            child.signal(SIGKILL)
            _ = child.wait()
            #expect(try img(["ls"]).out.split(separator: "\n").count == 1, "a killed pull records no image")

            let again = try img(["pull", name])
            #expect(again.status == 0, "\(again.err)")
            #expect(try proxy.stats().requests.contains { $0.range != nil && $0.path.contains(image.layer.descriptor.digest.hex) },
                    "the partial layer is resumed, not fetched again from zero")
            let state = try StateDirectory(root: img.state.path)
            let blobs = try state.content.list()
            #expect(blobs.count == 3)
            for blob in blobs { #expect(throws: Never.self) { try state.content.verify(blob.digest) } }
            #expect(try await state.databaseIntegrityCheck() == ["ok"])
        }
    }
}
