import Foundation
import ImgOCI
import ImgRegistry
import Testing

/// `img pull`, `push`, `login` and `logout` through the real binary against a real registry. Every run gets
/// its own HOME, config and state directories so nothing of the machine's own set-up is read or changed.
@Suite struct CommandLineRegistryTests {
    struct Img {
        let state: TempDir
        let config: TempDir
        var environment: [String: String] {
            var env = ProcessInfo.processInfo.environment
            env["HOME"] = config.path
            env["XDG_CONFIG_HOME"] = config.file("xdg")
            env["DOCKER_CONFIG"] = config.file("docker")
            return env
        }

        static let binary: String = {
            var dir = URL(filePath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            while dir.path != "/" {
                let candidate = dir.appending(path: "img").path
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDir), !isDir.boolValue { return candidate }
                dir = dir.deletingLastPathComponent()
            }
            return "img"
        }()

        init() throws {
            state = try TempDir("img-cli-state")
            config = try TempDir("img-cli-config")
        }

        func callAsFunction(_ args: [String], input: String = "") throws -> (status: Int32, out: String, err: String) {
            let r = try ChildProcess.run(Img.binary, ["-s", state.path] + args, input: Array(input.utf8), environment: environment)
            return (r.status, String(decoding: r.stdout, as: UTF8.self), String(decoding: r.stderr, as: UTF8.self))
        }

        func remove() {
            state.remove()
            config.remove()
        }
    }

    @Test func pullListUnpackTagPushAndSkopeoReadsIt() async throws {
        guard require(.dockerRegistry, .python3, .busybox, .tar, .gzip, .skopeo) else { return }
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
            let skopeo = try ChildProcess.run(Tool.skopeo.path!, ["inspect", "--tls-verify=false", "--raw",
                                                                  "docker://\(registry.host)/other/copy:v2"])
            #expect(skopeo.status == 0, "\(String(decoding: skopeo.stderr, as: UTF8.self))")
            #expect(Digest.sha256(of: skopeo.stdout) == image.root.digest)

            let missing = try img(["pull", "\(registry.host)/test/nothing:here"])
            #expect(missing.status == 1)
            #expect(missing.err == "error: not found: \(registry.host)/test/nothing:here\n")
            #expect(try img(["ls"]).out.split(separator: "\n").count == 3, "a failed pull records nothing")
            let badRef = try img(["pull", "Upper/Case"])
            #expect(badRef.status == 1 && badRef.err.contains("must be lowercase"))
        }
    }

    @Test func loginVerifiesThenStoresAndLogoutForgets() async throws {
        guard require(.dockerRegistry, .python3, .htpasswd, .openssl) else { return }
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
}
