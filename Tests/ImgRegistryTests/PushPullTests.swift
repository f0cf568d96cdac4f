import Foundation
import ImgOCI
import ImgRegistry
import Testing
import ImgTestSupport

/// Round trips against a plain-HTTP `docker-registry`, checked with `skopeo` as an independent client.
@Suite struct PushPullTests {
    static let amd64 = Platform(os: "linux", architecture: "amd64")
    static let arm64 = Platform(os: "linux", architecture: "arm64")

    @Test(.needs(.dockerRegistry, .python3, .busybox, .tar, .gzip), arguments: [false, true])
    func pushThenPull(chunked: Bool) async throws {
        try Prerequisite.require(.dockerRegistry, .python3, .busybox, .tar, .gzip)
        try await withRegistry { registry in
            let image = try TestImage.make(in: registry.dir)
            var options = RegistryClient.Options()
            if chunked {
                // The ~1 MB layer goes up in 300 kB PATCHes.
                options.chunkedUploadThreshold = 100_000
                options.uploadChunkSize = 300_000
            }
            // Through a proxy without faults, to see which requests the upload used.
            let proxy = try await FaultProxy(before: registry, faults: [])
            defer { proxy.stop() }
            var settings = RegistrySettings()
            settings.hosts[proxy.host] = RegistryHostSettings(http: true)
            try await withClient(settings: settings, options: options) { client in
                let ref = try Reference(parsing: "\(proxy.host)/test/busybox:v1")
                let pushed = try await client.pushImage(ref, root: image.root) { try image.content($0) }
                #expect(pushed == image.root.digest)
                let patches = try proxy.stats().requests.filter { $0.method == "PATCH" }.count
                let size = Int(image.layer.descriptor.size)
                #expect(patches == (chunked ? (size + 299_999) / 300_000 : 0))
                // The ~1 MB layer is looked for before it is sent; the small config is sent without asking
                // (a HEAD would cost as much as sending it).
                let heads = try proxy.stats().requests.filter { $0.method == "HEAD" && $0.path.contains("/blobs/") }.map(\.path)
                #expect(heads == ["/v2/test/busybox/blobs/\(image.layer.descriptor.digest)"])

                // A second push finds every blob in place.
                #expect(try await client.pushBlob(image.layer.descriptor, content: image.layer.content, to: ref) == .existed)
                #expect(try await client.blobExists(image.layer.descriptor.digest, in: ref))

                let dir = registry.dir.file("pulled")
                let resolved = try await client.pull(ref, into: dir)
                #expect(resolved.root.descriptor.digest == image.root.digest)
                #expect(resolved.index == nil)
                #expect(resolved.decodedManifest.layers == [image.layer.descriptor])
                #expect(try verifyContentDirectory(dir) == 3)
                #expect(try sha256(file: dir + "/" + image.layer.descriptor.digest.hex) == image.layer.descriptor.digest)

                // The tag resolves by HEAD and by digest.
                let head = try await client.headManifest(ref)
                #expect(head?.digest == image.root.digest)
                var byDigest = ref
                byDigest.tag = nil
                byDigest.digest = image.root.digest
                #expect(try await client.fetchManifest(byDigest).bytes == image.manifests[0].bytes)
            }
        }
    }

    @Test(.needs(.dockerRegistry))
    func aBlobFileShorterThanItsDescriptorFailsThePush() async throws {
        try Prerequisite.require(.dockerRegistry)
        try await withRegistry { registry in
            // Three upload chunks' worth on disk; the descriptor claims one byte more.
            let bytes = [UInt8](repeating: 7, count: 600_000)
            let path = registry.dir.file("short-blob")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let descriptor = Descriptor(mediaType: .ociLayer, digest: .sha256(of: bytes + [7]), size: Int64(bytes.count + 1))
            try await withClient(settings: registry.settings()) { client in
                let ref = try registry.reference("short/blob:v1")
                let error = await #expect(throws: RegistryError.self) {
                    try await client.pushBlob(descriptor, content: .file(path: path), to: ref)
                }
                #expect(error?.code == .sizeMismatch)
                #expect(try await !client.blobExists(descriptor.digest, in: ref))
            }
        }
    }

    @Test(.needs(.dockerRegistry, .skopeo, .busybox, .tar, .gzip))
    func skopeoReadsWhatWePush() async throws {
        try Prerequisite.require(.dockerRegistry, .skopeo, .busybox, .tar, .gzip)
        try await withRegistry { registry in
            let image = try TestImage.make(in: registry.dir, platforms: [Self.amd64, Self.arm64])
            try await withClient(settings: registry.settings()) { client in
                let ref = try registry.reference("pushed/multi:latest")
                try await client.pushImage(ref, root: image.root) { try image.content($0) }
            }
            let raw = try skopeo(["inspect", "--tls-verify=false", "--raw", "docker://\(registry.host)/pushed/multi:latest"])
            #expect(Array(raw.utf8) == image.index?.bytes)
            let inspected = try skopeo(["inspect", "--tls-verify=false", "--override-arch", "arm64",
                                        "docker://\(registry.host)/pushed/multi:latest"])
            let json = try JSONSerialization.jsonObject(with: Data(inspected.utf8)) as? [String: Any]
            #expect(json?["Architecture"] as? String == "arm64")
            #expect(json?["Digest"] as? String == image.index?.descriptor.digest.description)
            let out = registry.dir.file("skopeo-out")
            try skopeo(["copy", "--src-tls-verify=false", "--override-arch", "arm64",
                        "docker://\(registry.host)/pushed/multi:latest", "oci:\(out):copied"])
            #expect(FileManager.default.fileExists(atPath: out + "/blobs/sha256/" + image.layer.descriptor.digest.hex))
        }
    }

    @Test(.needs(.dockerRegistry, .skopeo, .busybox, .tar, .gzip))
    func wePullWhatSkopeoPushes() async throws {
        try Prerequisite.require(.dockerRegistry, .skopeo, .busybox, .tar, .gzip)
        try await withRegistry { registry in
            let image = try TestImage.make(in: registry.dir)
            let layout = registry.dir.file("layout")
            try image.writeLayout(to: layout, tag: "v1")
            try skopeo(["copy", "--dest-tls-verify=false", "oci:\(layout):v1", "docker://\(registry.host)/from/skopeo:v1"])
            try await withClient(settings: registry.settings()) { client in
                let dir = registry.dir.file("pulled")
                let resolved = try await client.pull(try registry.reference("from/skopeo:v1"), into: dir)
                #expect(resolved.decodedManifest.layers.map(\.digest) == [image.layer.descriptor.digest])
                #expect(resolved.decodedManifest.config.digest == image.configs[0].descriptor.digest)
                #expect(try verifyContentDirectory(dir) == 3)
            }
        }
    }

    @Test(.needs(.dockerRegistry, .busybox, .tar, .gzip), arguments: [false, true])
    func indexChoosesThePlatformAndKeepsTheIndex(dockerTypes: Bool) async throws {
        try Prerequisite.require(.dockerRegistry, .busybox, .tar, .gzip)
        try await withRegistry { registry in
            let image = try TestImage.make(in: registry.dir, platforms: [Self.amd64, Self.arm64], mediaTypes: dockerTypes)
            try await withClient(settings: registry.settings()) { client in
                let ref = try registry.reference("multi/arch:1")
                try await client.pushImage(ref, root: image.root) { try image.content($0) }
                let dir = registry.dir.file("pulled")
                let resolved = try await client.pull(ref, platform: Self.arm64, into: dir)
                #expect(resolved.root.descriptor.digest == image.index?.descriptor.digest)
                #expect(resolved.root.descriptor.mediaType == (dockerTypes ? .dockerManifestList : .ociIndex))
                #expect(resolved.index?.manifests.count == 2)
                #expect(resolved.manifest.descriptor.digest == image.manifests[1].descriptor.digest)
                #expect(resolved.decodedManifest.config.digest == image.configs[1].descriptor.digest)
                // index, arm64 manifest, arm64 config, layer
                #expect(try verifyContentDirectory(dir) == 4)

                let missing = await #expect(throws: RegistryError.self) {
                    try await client.resolve(ref, platform: Platform(os: "linux", architecture: "s390x"))
                }
                #expect(missing?.code == .platformNotFound)
            }
        }
    }

    @Test(.needs(.dockerRegistry, .busybox, .tar, .gzip))
    func crossRepositoryMount() async throws {
        try Prerequisite.require(.dockerRegistry, .busybox, .tar, .gzip)
        try await withRegistry { registry in
            let image = try TestImage.make(in: registry.dir)
            try await withClient(settings: registry.settings()) { client in
                let source = try registry.reference("source/repo:latest")
                try await client.pushImage(source, root: image.root) { try image.content($0) }
                let target = try registry.reference("target/repo:latest")
                let outcome = try await client.pushBlob(image.layer.descriptor, content: image.layer.content, to: target,
                                                        mountFrom: source)
                #expect(outcome == .mounted(from: "source/repo"))
                #expect(try await client.blobExists(image.layer.descriptor.digest, in: target))
                // A blob the source does not have cannot be mounted: the registry opens an upload instead.
                let other = try registry.reference("other/repo:latest")
                #expect(try await client.mountBlob(image.layer.descriptor.digest, from: other, to: try registry.reference("third/repo")) == false)
                #expect(try await client.pushBlob(image.layer.descriptor, content: image.layer.content,
                                                  to: try registry.reference("fourth/repo"), mountFrom: other) == .uploaded)
            }
        }
    }

    @Test(.needs(.dockerRegistry))
    func unknownImageIsNotFoundNamingTheReference() async throws {
        try Prerequisite.require(.dockerRegistry)
        try await withRegistry { registry in
            try await withClient(settings: registry.settings()) { client in
                let ref = try registry.reference("x")
                let error = await #expect(throws: RegistryError.self) { try await client.fetchManifest(ref) }
                #expect(error?.code == .notFound)
                #expect(error?.description == "not found: \(registry.host)/x:latest")
                #expect(try await client.headManifest(ref) == nil)
            }
        }
    }

    @Test(.needs(.dockerRegistry, .busybox, .tar, .gzip))
    func listsTags() async throws {
        try Prerequisite.require(.dockerRegistry, .busybox, .tar, .gzip)
        try await withRegistry { registry in
            let image = try TestImage.make(in: registry.dir)
            try await withClient(settings: registry.settings()) { client in
                for tag in ["b", "a"] {
                    try await client.pushImage(try registry.reference("tags/repo:\(tag)"), root: image.root) { try image.content($0) }
                }
                #expect(try await client.listTags(try registry.reference("tags/repo")).sorted() == ["a", "b"])
            }
        }
    }

    @Test(.needs(.dockerRegistry, .busybox, .tar, .gzip))
    func dockerHubPullsGoThroughAMirror() async throws {
        try Prerequisite.require(.dockerRegistry, .busybox, .tar, .gzip)
        try await withRegistry { registry in
            let image = try TestImage.make(in: registry.dir)
            try await withClient(settings: registry.settings()) { client in
                try await client.pushImage(try registry.reference("library/busybox:latest"), root: image.root) { try image.content($0) }
            }
            let settings = try RegistrySettings.parse("""
                [registry."docker.io"]
                mirrors = ["\(registry.host)"]
                [registry."\(registry.host)"]
                http = true
                """)
            try await withClient(settings: settings) { client in
                let dir = registry.dir.file("pulled")
                let resolved = try await client.pull(try Reference(parsing: "busybox"), into: dir)
                #expect(resolved.root.descriptor.digest == image.root.digest)
                #expect(try verifyContentDirectory(dir) == 3)
            }
        }
    }
}
