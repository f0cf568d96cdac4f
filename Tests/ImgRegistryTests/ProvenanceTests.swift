import Foundation
import ImgOCI
import ImgRegistry
import Testing
import ImgTestSupport

/// `--provenance` and `--attest type=provenance` through the real binary: a multi-stage build on a base image
/// pushed to a real registry, with a git source (a `git http-backend` server) and a download (Python's
/// http.server), pushed with its attestation; the statement read back from the registry by skopeo.
@Suite(.serialized) struct ProvenanceTests {
    typealias Img = CommandLineRegistryTests.Img

    static let jsonschema = Prerequisite.pythonModule("jsonschema", package: "python3-jsonschema")

    /// The registry's copy of `reference`, all of it (attestation manifests too), as an OCI layout.
    static func copied(_ reference: String, into dir: TemporaryDirectory) throws -> (index: [String: Any], blobs: String) {
        let layout = dir.file("layout")
        let copy = try HelperProcess.run("skopeo", ["copy", "--all", "--src-tls-verify=false", "docker://\(reference)", "oci:\(layout):x"])
        guard copy.status == 0 else { throw TestFailure("skopeo copy: \(String(decoding: copy.stderr, as: UTF8.self))") }
        let raw = try HelperProcess.run("skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(reference)"])
        guard raw.status == 0, let index = try JSONSerialization.jsonObject(with: Data(raw.stdout)) as? [String: Any] else {
            throw TestFailure("skopeo inspect --raw: \(String(decoding: raw.stderr, as: UTF8.self))")
        }
        return (index, layout + "/blobs/sha256/")
    }

    static func json(_ path: String) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(filePath: path))) as? [String: Any] else {
            throw TestFailure("\(path) is not a JSON object")
        }
        return object
    }

    static func hex(_ digest: Any?) -> String { String(((digest as? String) ?? "").dropFirst("sha256:".count)) }

    /// The image manifests and attestation manifests of an index.
    static func entries(_ index: [String: Any]) -> (images: [[String: Any]], attestations: [[String: Any]]) {
        let manifests = index["manifests"] as? [[String: Any]] ?? []
        let isAttestation: ([String: Any]) -> Bool = {
            ($0["annotations"] as? [String: String])?["vnd.docker.reference.type"] == "attestation-manifest"
        }
        return (manifests.filter { !isAttestation($0) }, manifests.filter(isAttestation))
    }

    /// A static file server on a free loopback port.
    static func fileServer(_ directory: String, log: String) async throws -> (Daemon, Int) {
        for attempt in 0..<3 {
            let port = try LoopbackPort.free()
            let server = try Daemon(try Prerequisite.python3.require(),
                                    ["-m", "http.server", "--bind", "127.0.0.1", "--directory", directory, "\(port)"], log: log)
            do {
                try await waitForPort(port, daemon: server)
                return (server, port)
            } catch {
                server.stop()
                if attempt == 2 || !LoopbackPort.lostRace(error) { throw error }
            }
        }
        throw TestFailure("unreachable")
    }

    @Test(.needs(.dockerRegistry, .python3, .busybox, .runc, .tar, .gzip, .skopeo, .git, Self.jsonschema))
    func multiStageProvenanceNamesEveryMaterial() async throws {
        try Prerequisite.require(.dockerRegistry, .python3, .busybox, .runc, .tar, .gzip, .skopeo, .git, Self.jsonschema)
        try await withRegistry { registry in
            let work = try TemporaryDirectory("img-provenance")
            defer { work.remove() }
            // The base image, pushed by the test: its manifest digest is what provenance must name.
            let baseImage = try TestImage.make(in: work)
            let base = try registry.reference("test/base:v1")
            try await BuildResultFlagsTests.push(baseImage, as: base, registry: registry)
            // A git source and a download.
            let git = try GitServer()
            defer { git.stop() }
            let gitPort = try await git.startHTTP(token: "unused")
            let commit = try git.commit("src", ["hello.txt": "from git\n"])
            let served = work.file("served")
            try FileManager.default.createDirectory(atPath: served, withIntermediateDirectories: true)
            try Data("downloaded\n".utf8).write(to: URL(filePath: served + "/remote.txt"))
            let (httpServer, httpPort) = try await Self.fileServer(served, log: work.file("http.log"))
            defer { httpServer.stop() }
            let downloadURL = "http://127.0.0.1:\(httpPort)/remote.txt"
            let downloadDigest = Digest.sha256(of: Data("downloaded\n".utf8)).hex
            // A secret and an ssh key the build uses, neither of which may reach the attestation.
            let secretValue = "s3cret-\(UUID().uuidString)"
            try Data(secretValue.utf8).write(to: URL(filePath: work.file("token")))
            let key = work.file("id_test")
            let keygen = try HelperProcess.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key])
            try #require(keygen.status == 0, "ssh-keygen: \(String(decoding: keygen.stderr, as: UTF8.self))")

            let context = work.file("context")
            try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
            try Data("""
                FROM \(base) AS tools
                SHELL ["/bin/busybox", "sh", "-c"]
                ADD \(downloadURL) /remote.txt
                ADD http://127.0.0.1:\(gitPort)/src.git /src
                ARG GREETING
                RUN --mount=type=secret,id=token --mount=type=ssh,id=key busybox test -s /run/secrets/token && echo "$GREETING" > /greeting
                FROM scratch
                COPY --from=tools /greeting /remote.txt /src/hello.txt /out/
                COPY --from=\(base) /bin/busybox /bin/busybox

                """.utf8).write(to: URL(filePath: context + "/Dockerfile"))
            let img = try Img()
            defer { img.remove() }
            let app = "\(registry.host)/test/app:v1"
            let built = try img(["build", "--progress", "plain", "-t", app, "--push", "--provenance", "mode=max",
                                 "--build-arg", "GREETING=hi", "--secret", "id=token,src=\(work.file("token"))",
                                 "--ssh", "key=\(key)", context])
            try #require(built.status == 0, "\(built.err)")

            // skopeo reads the pushed index: one image, one attestation manifest pointing at it.
            let (index, blobs) = try Self.copied(app, into: work)
            #expect(index["mediaType"] as? String == MediaType.ociIndex.rawValue)
            let (images, attestations) = Self.entries(index)
            try #require(images.count == 1 && attestations.count == 1, "\(index)")
            let imageDigest = images[0]["digest"] as? String
            let entry = attestations[0]
            #expect((entry["annotations"] as? [String: String])?["vnd.docker.reference.digest"] == imageDigest)
            #expect((entry["platform"] as? [String: String]) == ["os": "unknown", "architecture": "unknown"])
            let manifest = try Self.json(blobs + Self.hex(entry["digest"]))
            let layers = manifest["layers"] as? [[String: Any]] ?? []
            try #require(layers.count == 1)
            #expect(layers[0]["mediaType"] as? String == "application/vnd.in-toto+json")
            #expect((layers[0]["annotations"] as? [String: String])?["in-toto.io/predicate-type"] == "https://slsa.dev/provenance/v1")
            let statementPath = blobs + Self.hex(layers[0]["digest"])
            let bytes = try Data(contentsOf: URL(filePath: statementPath))

            // The statement and its predicate, against the schemas written from the specs.
            #expect(try AttestationSchemas.errors(bytes, schema: AttestationSchemas.inTotoStatementV1) == "")
            #expect(try AttestationSchemas.errors(bytes, schema: AttestationSchemas.slsaProvenanceV1, member: "predicate") == "")

            let statement = try Self.json(statementPath)
            let subjects = statement["subject"] as? [[String: Any]] ?? []
            #expect(subjects.count == 1)
            #expect((subjects.first?["digest"] as? [String: String])?["sha256"] == Self.hex(imageDigest))
            #expect((subjects.first?["name"] as? String)?.hasPrefix("pkg:docker/\(registry.host)/test/app@v1?platform=linux%2F") == true,
                    "\(subjects)")
            let predicate = statement["predicate"] as? [String: Any] ?? [:]
            let definition = predicate["buildDefinition"] as? [String: Any] ?? [:]
            let dependencies = definition["resolvedDependencies"] as? [[String: Any]] ?? []
            func dependency(_ match: (String) -> Bool) -> [String: String]? {
                dependencies.first { match($0["uri"] as? String ?? "") }?["digest"] as? [String: String]
            }
            // Every material by digest: the base image (named twice, listed once), the git commit, the download.
            #expect(dependency { $0.hasPrefix("pkg:docker/\(registry.host)/test/base@v1?platform=") } == ["sha256": baseImage.root.digest.hex],
                    "\(dependencies)")
            #expect(dependencies.count == 3, "\(dependencies)")
            #expect(dependency { $0 == "http://127.0.0.1:\(gitPort)/src.git" } == ["sha1": commit], "\(dependencies)")
            #expect(dependency { $0 == downloadURL } == ["sha256": downloadDigest], "\(dependencies)")
            let external = definition["externalParameters"] as? [String: Any] ?? [:]
            let source = external["configSource"] as? [String: Any] ?? [:]
            let dockerfile = try Data(contentsOf: URL(filePath: context + "/Dockerfile"))
            #expect((source["digest"] as? [String: String])?["sha256"] == Digest.sha256(of: dockerfile).hex)
            #expect(source["path"] as? String == "Dockerfile")
            let args = (external["request"] as? [String: Any])?["args"] as? [String: String] ?? [:]
            #expect(args["build-arg:GREETING"] == "hi" && args["platform"]?.hasPrefix("linux/") == true, "\(args)")
            let builder = (predicate["runDetails"] as? [String: Any])?["builder"] as? [String: Any] ?? [:]
            #expect((builder["id"] as? String)?.hasPrefix("pkg:generic/img@") == true)
            #expect((builder["version"] as? [String: String])?["commit"]?.isEmpty == false)

            // No secret, ssh id, key or socket, and no host path, in anything attached.
            let text = String(decoding: bytes, as: UTF8.self)
            for leak in [secretValue, work.file("token"), key, "id=key", context, work.path, img.state.path, "/tmp/", "token"] {
                #expect(!text.contains(leak), "the attestation holds \(leak)")
            }

            // img push of the stored image carries the attestation to another name.
            let copy = "\(registry.host)/test/app:copy"
            #expect(try img(["tag", app, copy]).status == 0)
            let pushedCopy = try img(["push", copy])
            #expect(pushedCopy.status == 0, "\(pushedCopy.err)")
            let copied = try HelperProcess.run("skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(copy)"])
            let copiedIndex = try JSONSerialization.jsonObject(with: Data(copied.stdout)) as? [String: Any] ?? [:]
            #expect(Self.entries(copiedIndex).attestations.count == 1, "\(String(decoding: copied.stdout, as: UTF8.self))")

            // img keeps one image for it, and img inspect shows the statement.
            let listed = try img(["ls"])
            #expect(listed.out.split(separator: "\n").filter { $0.contains("test/app:v1 ") }.count == 1, "\(listed.out)")
            let inspected = try img(["inspect", app])
            let shown = try JSONSerialization.jsonObject(with: Data(inspected.out.utf8)) as? [String: Any]
            let attached = shown?["attestations"] as? [[String: Any]] ?? []
            #expect(attached.count == 1 && attached.first?["predicateType"] as? String == "https://slsa.dev/provenance/v1",
                    "\(inspected.out.prefix(400))")
        }
    }

    @Test(.needs(.dockerRegistry, .python3, .busybox, .runc, .tar, .gzip, .skopeo, .git))
    func pushingAttachesMinimalProvenanceByDefault() async throws {
        try Prerequisite.require(.dockerRegistry, .python3, .busybox, .runc, .tar, .gzip, .skopeo, .git)
        try await withRegistry { registry in
            let work = try TemporaryDirectory("img-provenance-default")
            defer { work.remove() }
            let baseImage = try TestImage.make(in: work)
            let base = try registry.reference("test/base:v1")
            try await BuildResultFlagsTests.push(baseImage, as: base, registry: registry)
            // The context is a git work tree with an https origin: provenance names the commit, never the path.
            let context = work.file("context")
            try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
            try Data("FROM \(base)\nARG GREETING\nLABEL greeting=$GREETING\n".utf8).write(to: URL(filePath: context + "/Dockerfile"))
            let environment = ["GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
                               "GIT_COMMITTER_EMAIL=t@example.com", "HOME=\(work.path)"]
            for step in [["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "one"],
                         ["remote", "add", "origin", "https://user:password@git.example.com/team/app.git"]] {
                let result = try HelperProcess.run("/usr/bin/env", environment + ["git", "-C", context] + step)
                try #require(result.status == 0, "git \(step): \(String(decoding: result.stderr, as: UTF8.self))")
            }
            let head = String(decoding: try HelperProcess.run("/usr/bin/env", ["git", "-C", context, "rev-parse", "HEAD"]).stdout,
                              as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let img = try Img()
            defer { img.remove() }

            let app = "\(registry.host)/test/app:min"
            let built = try img(["build", "--progress", "plain", "-t", app, "--push", "--build-arg", "GREETING=hi", context])
            try #require(built.status == 0, "\(built.err)")
            let (index, blobs) = try Self.copied(app, into: work)
            let (images, attestations) = Self.entries(index)
            try #require(images.count == 1 && attestations.count == 1, "a push attaches provenance by default: \(index)")
            let manifest = try Self.json(blobs + Self.hex(attestations[0]["digest"]))
            let layer = (manifest["layers"] as? [[String: Any]])?.first
            let statementPath = blobs + Self.hex(layer?["digest"])
            let text = try String(contentsOfFile: statementPath, encoding: .utf8)
            let predicate = try Self.json(statementPath)["predicate"] as? [String: Any] ?? [:]
            let external = (predicate["buildDefinition"] as? [String: Any])?["externalParameters"] as? [String: Any] ?? [:]
            let args = (external["request"] as? [String: Any])?["args"] as? [String: String] ?? [:]
            #expect(args["build-arg:GREETING"] == nil, "mode=min leaves build args out: \(args)")
            let source = external["configSource"] as? [String: Any] ?? [:]
            #expect((source["digest"] as? [String: String])?["sha1"] == head, "\(source)")
            #expect(source["uri"] as? String == "https://git.example.com/team/app.git", "\(source)")
            #expect(!text.contains("password") && !text.contains(work.path), "no credentials or host paths: \(text)")

            // --provenance=false: the image alone, a manifest and no index.
            let plain = "\(registry.host)/test/app:plain"
            let off = try img(["build", "--progress", "plain", "-t", plain, "--push", "--provenance=false", context])
            try #require(off.status == 0, "\(off.err)")
            let raw = try HelperProcess.run("skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(plain)"])
            let document = try JSONSerialization.jsonObject(with: Data(raw.stdout)) as? [String: Any]
            #expect(document?["manifests"] == nil && document?["layers"] != nil, "\(String(decoding: raw.stdout, as: UTF8.self))")

            // Kept by img save --format oci and -o type=oci; left out of a docker archive, which docker load reads.
            let saved = work.file("saved.tar")
            #expect(try img(["save", "--format", "oci", "-o", saved, app]).status == 0)
            let ociIndex = try HelperProcess.run("skopeo", ["inspect", "--raw", "oci-archive:\(saved)"])
            let savedIndex = try JSONSerialization.jsonObject(with: Data(ociIndex.stdout)) as? [String: Any] ?? [:]
            #expect(Self.entries(savedIndex).attestations.count == 1, "\(String(decoding: ociIndex.stdout, as: UTF8.self))")
            let oci = work.file("out.tar"), docker = work.file("docker.tar")
            let exported = try img(["build", "--progress", "plain", "--provenance", "mode=min", "-o", "type=oci,dest=\(oci)", context])
            #expect(exported.status == 0, "\(exported.err)")
            let exportedIndex = try HelperProcess.run("skopeo", ["inspect", "--raw", "oci-archive:\(oci)"])
            let exportedJSON = try JSONSerialization.jsonObject(with: Data(exportedIndex.stdout)) as? [String: Any] ?? [:]
            #expect(Self.entries(exportedJSON).attestations.count == 1)
            let dockerBuilt = try img(["build", "--progress", "plain", "--provenance", "mode=min", "-o", "type=docker,dest=\(docker)", context])
            #expect(dockerBuilt.status == 0, "\(dockerBuilt.err)")
            let dockerRaw = try HelperProcess.run("skopeo", ["inspect", "--raw", "docker-archive:\(docker)"])
            let dockerManifest = try JSONSerialization.jsonObject(with: Data(dockerRaw.stdout)) as? [String: Any] ?? [:]
            #expect(dockerManifest["layers"] != nil, "a docker archive holds the image only")
        }
    }

    @Test func malformedAttestationFlagsAreOneLineErrors() throws {
        let img = try Img()
        defer { img.remove() }
        let context = img.state.file("ctx")
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try Data("FROM scratch\n".utf8).write(to: URL(filePath: context + "/Dockerfile"))
        for (flags, message) in [
            (["--provenance", "mode=full"], "--provenance: mode=full: expected min or max"),
            (["--attest", "type=signature"], "--attest type=signature: unknown type signature"),
            (["--attest", "mode=max"], "--attest mode=max: expected type=provenance or type=sbom"),
            (["--sbom", "generator=docker/scout"], "--sbom: generator=docker/scout: img scans the image with its own reader"),
        ] {
            let result = try img(["build", "--progress", "plain"] + flags + [context])
            #expect(result.status != 0)
            let lines = result.err.split(separator: "\n").filter { $0.hasPrefix("error:") }
            #expect(lines.count == 1 && lines[0].contains(message), "\(flags): \(result.err)")
        }
        // The state directory is left as it was: still usable, nothing stored.
        let listed = try img(["ls"])
        #expect(listed.status == 0 && listed.out.split(separator: "\n").count <= 1, "\(listed.out) \(listed.err)")
    }
}
