import Foundation
import ImgOCI
import ImgRegistry
import Testing
import ImgTestSupport

/// `--cache-from type=registry` imports lazily (and two exports to one ref at once leave one whole cache): a counting proxy in front of the real registry shows which
/// blobs machine B downloads. A fully cached build, and a push of its image to the same registry, download no
/// layer; an edit downloads exactly the layers under the step that runs; `img save` fetches what it still lacks.
@Suite struct BuildCacheLazyTests {
    typealias Img = CommandLineRegistryTests.Img

    /// The digests of the blob GETs the proxy saw since `start` (an index into its request list).
    static func blobGets(_ proxy: FaultProxy, since start: Int) throws -> [String] {
        try proxy.stats().requests.dropFirst(start).compactMap { request in
            guard request.method == "GET", let range = request.path.range(of: "/blobs/") else { return nil }
            return String(request.path[range.upperBound...])
        }
    }

    static func layers(_ img: Img, _ image: String) throws -> [String] {
        let inspect = try img(["inspect", image])
        let json = try JSONSerialization.jsonObject(with: Data(inspect.out.utf8)) as? [String: Any]
        let manifest = json?["manifest"] as? [String: Any]
        return (manifest?["layers"] as? [[String: Any]] ?? []).compactMap { $0["digest"] as? String }
    }

    @Test(.needs(.dockerRegistry, .python3, .busybox, .runc, .skopeo))
    func aCachedBuildDownloadsNoLayerAndAnEditOnlyTheLayersUnderIt() async throws {
        try Prerequisite.require(.dockerRegistry, .python3, .busybox, .runc, .skopeo)
        try await withRegistry(.plain) { registry in
            let proxy = try await FaultProxy(before: registry, faults: [])
            defer { proxy.stop() }
            let context = try TemporaryDirectory("img-lazy-context")
            defer { context.remove() }
            try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: context.file("busybox"))
            let dockerfile = context.file("Dockerfile")
            try Data(BuildCacheRegistryTests.dockerfile.utf8).write(to: URL(filePath: dockerfile))
            let cache = "\(proxy.host)/test/cache:v1"

            let a = try Img()
            defer { a.remove() }
            let cold = try a(["build", "--progress", "plain", "-t", "app", "--cache-to",
                              "type=registry,ref=\(cache),mode=max,registry.insecure=true", context.path])
            #expect(cold.status == 0, "\(cold.err)")
            let layers = try Self.layers(a, "app")
            #expect(layers.count == 4, "busybox, its links, the artifact, /final: \(layers)")

            // Machine B: every step hits and no blob comes down: the cache manifest carries the cache config
            // (OCI `data`), which carries the records' image configs.
            let b = try Img()
            defer { b.remove() }
            var start = try proxy.stats().requests.count
            let warm = try b(["build", "--progress", "plain", "-t", "app", "--cache-from",
                              "type=registry,ref=\(cache),registry.insecure=true", context.path])
            #expect(warm.status == 0, "\(warm.err)")
            #expect(BuildCacheRegistryTests.steps(warm.err).ran.isEmpty, "\(warm.err)")
            #expect(warm.err.contains("layers (") && warm.err.contains("left in the registry"), "\(warm.err)")
            var fetched = try Self.blobGets(proxy, since: start)
            let cacheManifest = try JSONSerialization.jsonObject(
                with: Data(try HelperProcess.run("skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(registry.host)/test/cache:v1"]).stdout))
                as? [String: Any]
            let configDescriptor = try #require(cacheManifest?["config"] as? [String: Any])
            let embedded = try #require(Data(base64Encoded: configDescriptor["data"] as? String ?? ""))
            #expect(Digest.sha256(of: embedded).description == configDescriptor["digest"] as? String, "the cache config itself")
            #expect(fetched.isEmpty, "no blob GET at all: \(fetched)")
            #expect(Set(fetched).isDisjoint(with: layers), "no layer downloaded for a fully cached build: \(fetched)")
            #expect(try Self.layers(b, "app") == layers, "B's image names the cached blobs")
            // Records prepared ahead of their steps are settled before the build ends: no ingest is left.
            let ingests = (try? FileManager.default.contentsOfDirectory(atPath: b.state.file("content/ingest"))) ?? []
            #expect(ingests.isEmpty, "\(ingests)")

            // A push to the same registry mounts the layers from the cache's repository: none downloaded.
            let pushed = "\(proxy.host)/test/app:v1"
            #expect(try b(["tag", "app", pushed]).status == 0)
            start = try proxy.stats().requests.count
            let push = try b(["push", "--insecure-registry", pushed])
            #expect(push.status == 0, "\(push.err)")
            fetched = try Self.blobGets(proxy, since: start)
            #expect(Set(fetched).isDisjoint(with: layers), "\(fetched)")
            let c = try Img()
            defer { c.remove() }
            #expect(try c(["pull", pushed]).status == 0, "the pushed image is whole in the registry")
            let rootfs = c.state.file("rootfs")
            #expect(try c(["unpack", "-o", rootfs, pushed]).status == 0)
            #expect(try String(contentsOfFile: rootfs + "/final", encoding: .utf8) == "final\n")

            // An edit of the last step: it runs on the three layers under it, which are downloaded, no others.
            try Data(BuildCacheRegistryTests.dockerfile.replacingOccurrences(of: "echo final", with: "echo edited").utf8)
                .write(to: URL(filePath: dockerfile))
            start = try proxy.stats().requests.count
            let edited = try b(["build", "--progress", "plain", "-t", "app2", "--cache-from",
                                "type=registry,ref=\(cache),registry.insecure=true", context.path])
            #expect(edited.status == 0, "\(edited.err)")
            #expect(BuildCacheRegistryTests.steps(edited.err).ran.count == 1, "\(edited.err)")
            fetched = try Self.blobGets(proxy, since: start).filter { layers.contains($0) }
            #expect(fetched.sorted() == layers.prefix(3).sorted(), "\(fetched)")
            #expect(edited.err.contains("fetched 3 layers"), "\(edited.err)")

            // `img save` of the first image fetches the one layer B still lacks, and writes a whole archive.
            start = try proxy.stats().requests.count
            let archive = b.state.file("app.tar")
            let save = try b(["save", "-o", archive, "app"])
            #expect(save.status == 0, "\(save.err)")
            fetched = try Self.blobGets(proxy, since: start)
            #expect(fetched == [layers[3]], "\(fetched)")
            let listing = try HelperProcess.run("tar", ["-tf", archive])
            let names = String(decoding: listing.stdout, as: UTF8.self)
            #expect(names.contains("manifest.json"))
        }
    }

    /// Machine B's FROM of a registry image brings only its manifest and config when every step hits: the base's
    /// layer is left in the registry (and `img ls` shows the base at its full size); the first step that runs on
    /// it fetches it.
    @Test(.needs(.dockerRegistry, .python3, .busybox, .runc, .tar, .gzip))
    func aCachedBuildDoesNotDownloadItsBaseImagesLayers() async throws {
        try Prerequisite.require(.dockerRegistry, .python3, .busybox, .runc, .tar, .gzip)
        try await withRegistry(.plain) { registry in
            let proxy = try await FaultProxy(before: registry, faults: [])
            defer { proxy.stop() }
            let image = try TestImage.make(in: registry.dir)
            let base = try Reference(parsing: "\(proxy.host)/test/base:v1")
            var settings = registry.settings()
            settings.hosts[proxy.host] = settings.settings(for: registry.host)
            try await withClient(settings: settings) { client in
                _ = try await client.pushImage(base, root: image.root) { try image.content($0) }
            }
            let context = try TemporaryDirectory("img-lazy-base")
            defer { context.remove() }
            let dockerfile = """
                FROM \(proxy.host)/test/base:v1
                SHELL ["/bin/busybox", "sh", "-c"]
                RUN echo one > /one

                """
            try Data(dockerfile.utf8).write(to: URL(filePath: context.file("Dockerfile")))
            let cache = "type=registry,ref=\(proxy.host)/test/cache:base,registry.insecure=true"

            let a = try Img()
            defer { a.remove() }
            let cold = try a(["build", "--progress", "plain", "-t", "app", "--cache-to", cache + ",mode=max", context.path])
            #expect(cold.status == 0, "\(cold.err)")

            let b = try Img()
            defer { b.remove() }
            var start = try proxy.stats().requests.count
            let warm = try b(["build", "--progress", "plain", "-t", "app", "--cache-from", cache, context.path])
            #expect(warm.status == 0, "\(warm.err)")
            // FROM resolves the base (its manifest) and is shown done; every other step hits.
            #expect(BuildCacheRegistryTests.steps(warm.err).ran.filter { !$0.contains("FROM") }.isEmpty, "\(warm.err)")
            let fetched = try Self.blobGets(proxy, since: start)
            #expect(!fetched.contains(image.layer.descriptor.digest.description), "\(fetched)")
            // Not even the base's config: the cache carries it, and the base's manifest says it is that one.
            #expect(fetched.isEmpty, "\(fetched)")
            #expect(warm.err.contains("--cache-from \(cache): 1 cached steps"), "\(warm.err)")
            let listed = try b(["ls"])
            #expect(listed.out.contains("\(proxy.host)/test/base:v1"), "the base is stored under its name: \(listed.out)")

            // A step that runs needs the base's filesystem: its layer comes down then, once.
            try Data((dockerfile + "RUN echo two > /two\n").utf8).write(to: URL(filePath: context.file("Dockerfile")))
            start = try proxy.stats().requests.count
            let edited = try b(["build", "--progress", "plain", "-t", "app", "--cache-from", cache, context.path])
            #expect(edited.status == 0, "\(edited.err)")
            #expect(BuildCacheRegistryTests.steps(edited.err).ran.filter { !$0.contains("FROM") }.count == 1, "\(edited.err)")
            let layerGets = try Self.blobGets(proxy, since: start).filter { $0 == image.layer.descriptor.digest.description }
            #expect(layerGets.count == 1, "\(layerGets)")

            // The tag moved to another image: a fresh machine builds on the new one (its config fetched, since
            // the cache holds only the old one's) and the steps run on it.
            let other = try TemporaryDirectory("img-lazy-base-2")
            defer { other.remove() }
            let moved = try TestImage.make(in: other, padding: 4096)
            try await withClient(settings: settings) { client in
                _ = try await client.pushImage(base, root: moved.root) { try moved.content($0) }
            }
            try Data(dockerfile.utf8).write(to: URL(filePath: context.file("Dockerfile")))
            let c = try Img()
            defer { c.remove() }
            start = try proxy.stats().requests.count
            let rebuilt = try c(["build", "--progress", "plain", "-t", "app", "--cache-from", cache, context.path])
            #expect(rebuilt.status == 0, "\(rebuilt.err)")
            #expect(BuildCacheRegistryTests.steps(rebuilt.err).ran.filter { !$0.contains("FROM") }.count == 1, "\(rebuilt.err)")
            let movedConfig = moved.configs[0].descriptor.digest.description
            #expect(movedConfig != image.configs[0].descriptor.digest.description)
            #expect(try Self.blobGets(proxy, since: start).contains(movedConfig), "the new base's config is fetched")
        }
    }

    /// Two machines exporting different builds to one registry ref at once: the registry keeps one of the two
    /// cache manifests whole, and a third machine builds that one's Dockerfile with every step cached.
    @Test(.needs(.dockerRegistry, .python3, .busybox, .runc))
    func twoExportsToOneRefAtOnceLeaveOneValidCache() async throws {
        try Prerequisite.require(.dockerRegistry, .python3, .busybox, .runc)
        try await withRegistry(.plain) { registry in
            let cache = "type=registry,ref=\(registry.host)/test/cache:shared,registry.insecure=true"
            var contexts: [TemporaryDirectory] = []
            defer { for context in contexts { context.remove() } }
            for variant in ["one", "two"] {
                let context = try TemporaryDirectory("img-race-\(variant)")
                try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: context.file("busybox"))
                try Data(BuildCacheRegistryTests.dockerfile.replacingOccurrences(of: "echo final", with: "echo \(variant)").utf8)
                    .write(to: URL(filePath: context.file("Dockerfile")))
                contexts.append(context)
            }
            let machines = try [Img(), Img()]
            defer { for machine in machines { machine.remove() } }
            let paths = contexts.map(\.path)
            let statuses = try await withThrowingTaskGroup(of: (Int, Int32, String).self) { group in
                for index in machines.indices {
                    let machine = machines[index], path = paths[index]
                    group.addTask {
                        let result = try machine(["build", "--progress", "plain", "--cache-to", cache + ",mode=max", path])
                        return (index, result.status, result.err)
                    }
                }
                var statuses: [Int: (Int32, String)] = [:]
                for try await (index, status, err) in group { statuses[index] = (status, err) }
                return statuses
            }
            for (status, err) in statuses.values { #expect(status == 0, "\(err)") }

            // Whichever manifest won, it is whole: one of the two builds hits every step from it.
            var hits = 0
            for path in paths {
                let c = try Img()
                defer { c.remove() }
                let build = try c(["build", "--progress", "plain", "-t", "app", "--cache-from", cache, path])
                #expect(build.status == 0, "\(build.err)")
                #expect(!build.err.contains("warning:"), "\(build.err)")
                if BuildCacheRegistryTests.steps(build.err).ran.isEmpty { hits += 1 }
            }
            #expect(hits == 1, "exactly one of the two caches is in the registry")
        }
    }
}
