import Foundation
import ImgOCI
import Testing
import ImgTestSupport

/// `--cache-to ...,cache-mounts=true` (the contents of `RUN --mount=type=cache` travel with the cache) and
/// `compression=` on `--cache-to`, through the real binary with two state directories for two machines.
@Suite(.serialized, .needs(.busybox, .runc)) struct BuildCacheMountsTests {
    typealias Machine = BuildCacheTests.Machine

    /// Machine A's Dockerfile: the RUN leaves a file in cache mount X (and nothing in the image).
    static let writes = BuildTests.base + "RUN --mount=type=cache,target=/c,id=X echo hello > /c/seen\n"
    /// Machine B's: another RUN (so it runs) that copies what cache mount X holds into the image.
    static let reads = BuildTests.base
        + "RUN --mount=type=cache,target=/c,id=X cat /c/seen > /out 2>/dev/null || echo none > /out\n"

    /// The `img.cacheMounts` entries of the cache at `directory`.
    static func cacheMounts(_ directory: String) throws -> [[String: Any]] {
        let list = try #require(try BuildCacheTests.cacheConfig(directory)["img.cacheMounts"] as? [String: Any])
        #expect(list["version"] as? Int == 1)
        return try #require(list["mounts"] as? [[String: Any]])
    }

    /// The cache manifest (tag `latest`) of the layout at `directory`.
    static func manifest(_ directory: String) throws -> [String: Any] {
        let index = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(filePath: directory + "/index.json"))) as? [String: Any])
        let entry = try #require((index["manifests"] as? [[String: Any]])?.last)
        let digest = try #require((entry["digest"] as? String)?.split(separator: ":").last)
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(filePath: directory + "/blobs/sha256/\(digest)"))) as? [String: Any])
    }

    /// The stored image's config digest (`img inspect`).
    static func configDigest(_ machine: Machine, _ image: String) throws -> String? {
        let result = try ImgBinary.run(["-s", machine.state, "inspect", image])
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return ((json?["manifest"] as? [String: Any])?["config"] as? [String: Any])?["digest"] as? String
    }

    @Test func aCacheMountTravelsOnlyWithCacheMountsTrue() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.writes)
        let with = f.dir.url.appending(path: "cache-with").path
        let without = f.dir.url.appending(path: "cache-without").path
        let a = Machine(f, "a")
        let cold = try a.build(["-t", "app", "--cache-to", "type=local,dest=\(with),cache-mounts=true",
                                "--cache-to", "type=local,dest=\(without)"])
        #expect(cold.status == 0, "\(cold.stderr)")
        #expect(cold.stderr.contains(" layers, 1 cache mount)"), "\(cold.stderr)")

        // The mount is one entry of img.cacheMounts and one more layer blob of the manifest, with its diffID.
        let mounts = try Self.cacheMounts(with)
        #expect(mounts.count == 1 && mounts.first?["id"] as? String == "X", "\(mounts)")
        let blob = try #require(mounts.first?["blob"] as? String)
        let layers = try #require(try Self.manifest(with)["layers"] as? [[String: Any]])
        let listed = try #require(layers.first { $0["digest"] as? String == blob })
        #expect((listed["annotations"] as? [String: String])?["containerd.io/uncompressed"] == mounts.first?["diffID"] as? String)
        #expect(listed["mediaType"] as? String == "application/vnd.oci.image.layer.v1.tar+gzip")
        #expect(try BuildCacheTests.cacheConfig(without)["img.cacheMounts"] == nil)

        try f.write("Dockerfile", Self.reads)
        let b = Machine(f, "b")
        let warm = try b.build(["-t", "app", "--cache-from", "type=local,src=\(with)"])
        #expect(warm.status == 0, "\(warm.stderr)")
        #expect(BuildFixture.steps(warm.stderr).ran.count == 1, "only the changed RUN runs\n\(warm.stderr)")
        #expect(BuildCacheTests.warnings(warm.stderr).isEmpty, "\(warm.stderr)")
        #expect(try b.file("app", "out") == "hello\n", "the empty mount started from machine A's")

        // Without cache-mounts=true the cache carries no mount: the RUN finds it empty.
        let c = Machine(f, "c")
        let bare = try c.build(["-t", "app", "--cache-from", "type=local,src=\(without)"])
        #expect(bare.status == 0, "\(bare.stderr)")
        #expect(try c.file("app", "out") == "none\n")

        // A mount that holds something is never overwritten by a cache's.
        let d = Machine(f, "d")
        try f.write("Dockerfile", BuildTests.base + "RUN --mount=type=cache,target=/c,id=X echo mine > /c/seen\n")
        #expect(try d.build(["-t", "app"]).status == 0)
        try f.write("Dockerfile", Self.reads)
        let own = try d.build(["-t", "app", "--cache-from", "type=local,src=\(with)"])
        #expect(own.status == 0, "\(own.stderr)")
        #expect(try d.file("app", "out") == "mine\n")
    }

    @Test func aCorruptCacheMountBlobIsAWarningAndTheMountStartsEmpty() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.writes)
        let cache = f.dir.url.appending(path: "cache").path
        #expect(try Machine(f, "a").build(["-t", "app", "--cache-to", "type=local,dest=\(cache),cache-mounts=true,mode=max"]).status == 0)
        let blob = try #require(try Self.cacheMounts(cache).first?["blob"] as? String)
        let path = cache + "/blobs/sha256/" + blob.dropFirst("sha256:".count)
        let length = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)
        try Data(count: length.intValue).write(to: URL(filePath: path))

        try f.write("Dockerfile", Self.reads)
        let b = Machine(f, "b")
        let result = try b.build(["-t", "app", "--cache-from", "type=local,src=\(cache)"])
        #expect(result.status == 0, "\(result.stderr)")
        let warnings = BuildCacheTests.warnings(result.stderr)
        #expect(warnings.count == 1, "\(result.stderr)")
        #expect(warnings.first?.hasPrefix("warning: --cache-from type=local,src=\(cache): cache mount X: ") == true, "\(warnings)")
        #expect(warnings.first?.hasSuffix("; the mount starts empty") == true, "\(warnings)")
        #expect(warnings.first?.contains(blob) == true, "\(warnings)")
        #expect(try b.file("app", "out") == "none\n")
        // The steps below still came from the cache.
        #expect(BuildFixture.steps(result.stderr).cached.count == 2, "\(result.stderr)")
    }

    /// Replaces the cache config of the layout at `directory` (tag `latest`) with `change` applied, and the
    /// manifest and index.json that name it: a cache whose blobs all match their digests.
    static func rewriteConfig(_ directory: String, _ change: (inout [String: Any]) -> Void) throws {
        func json(_ path: String) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(filePath: path))) as? [String: Any])
        }
        func store(_ object: Any) throws -> (String, Int) {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            let digest = Digest.sha256(of: data)
            try data.write(to: URL(filePath: directory + "/blobs/sha256/" + digest.hex))
            return (digest.description, data.count)
        }
        var index = try json(directory + "/index.json")
        var entries = try #require(index["manifests"] as? [[String: Any]])
        let manifestDigest = try #require((entries.last?["digest"] as? String)?.split(separator: ":").last)
        var manifest = try json(directory + "/blobs/sha256/\(manifestDigest)")
        var configDescriptor = try #require(manifest["config"] as? [String: Any])
        let configDigest = try #require((configDescriptor["digest"] as? String)?.split(separator: ":").last)
        var config = try json(directory + "/blobs/sha256/\(configDigest)")
        change(&config)
        (configDescriptor["digest"], configDescriptor["size"]) = try store(config)
        manifest["config"] = configDescriptor
        (entries[entries.count - 1]["digest"], entries[entries.count - 1]["size"]) = try store(manifest)
        index["manifests"] = entries
        try JSONSerialization.data(withJSONObject: index).write(to: URL(filePath: directory + "/index.json"))
    }

    @Test func aCacheMountIsCheckedAgainstItsDiffIDAndNothingHalfUnpackedStays() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.writes)
        let cache = f.dir.url.appending(path: "cache").path
        #expect(try Machine(f, "a").build(["-t", "app", "--cache-to", "type=local,dest=\(cache),cache-mounts=true"]).status == 0)
        // The blob is intact (its digest matches) but the config claims another diffID for it.
        let wrong = "sha256:" + String(repeating: "0", count: 64)
        try Self.rewriteConfig(cache) { config in
            var list = config["img.cacheMounts"] as? [String: Any] ?? [:]
            var mounts = list["mounts"] as? [[String: Any]] ?? []
            if !mounts.isEmpty { mounts[0]["diffID"] = wrong }
            list["mounts"] = mounts
            config["img.cacheMounts"] = list
        }
        #expect(try Self.cacheMounts(cache).first?["diffID"] as? String == wrong)

        try f.write("Dockerfile", Self.reads)
        let b = Machine(f, "b")
        let result = try b.build(["-t", "app", "--cache-from", "type=local,src=\(cache)"])
        #expect(result.status == 0, "\(result.stderr)")
        let warnings = BuildCacheTests.warnings(result.stderr)
        #expect(warnings.count == 1 && warnings[0].contains("expected diffID \(wrong)"), "\(result.stderr)")
        #expect(try b.file("app", "out") == "none\n")
        // The mount was left empty (the RUN's redirection aside), and no unpack directory is left beside it.
        let mounts = try FileManager.default.contentsOfDirectory(atPath: b.state + "/cache-mounts")
        #expect(mounts.count == 1 && !mounts[0].hasPrefix("."), "\(mounts)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: b.state + "/cache-mounts/" + mounts[0]).isEmpty)
    }

    @Test(arguments: ["version 2", "another shape"])
    func aCacheMountListThisImgCannotReadIsIgnoredAndTheRecordsStillHit(change: String) throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.writes)
        let cache = f.dir.url.appending(path: "cache").path
        #expect(try Machine(f, "a").build(["-t", "app", "--cache-to", "type=local,dest=\(cache),cache-mounts=true"]).status == 0)
        try Self.rewriteConfig(cache) { config in
            if change == "version 2" {
                var list = config["img.cacheMounts"] as? [String: Any] ?? [:]
                list["version"] = 2
                config["img.cacheMounts"] = list
            } else {
                config["img.cacheMounts"] = ["a newer img's list"]
            }
        }
        try f.write("Dockerfile", Self.reads)
        let b = Machine(f, "b")
        let result = try b.build(["-t", "app", "--cache-from", "type=local,src=\(cache)"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(BuildCacheTests.warnings(result.stderr).isEmpty, "\(result.stderr)")
        #expect(BuildFixture.steps(result.stderr).cached.count == 2, "\(result.stderr)")
        #expect(try b.file("app", "out") == "none\n")
    }

    @Test func modeMinExportsOnlyTheMountsOfTheFinalImagesSteps() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", """
            FROM scratch AS tools
            COPY busybox /bin/busybox
            RUN ["/bin/busybox", "--install", "-s", "/bin"]

            FROM tools AS builder
            RUN --mount=type=cache,target=/deps echo deps > /deps/d && cp /deps/d /artifact

            FROM tools
            COPY --from=builder /artifact /artifact
            RUN --mount=type=cache,target=/c,id=final echo final > /c/f

            """)
        for mode in ["min", "max"] {
            let cache = f.dir.url.appending(path: "cache-\(mode)").path
            let built = try Machine(f, "a").build(["-t", "app", "--cache-to", "type=local,dest=\(cache),mode=\(mode),cache-mounts=true"])
            #expect(built.status == 0, "\(built.stderr)")
            let ids = try Self.cacheMounts(cache).compactMap { $0["id"] as? String }
            // A mount without id= is kept by its target.
            #expect(ids == (mode == "min" ? ["final"] : ["/deps", "final"]), "\(mode): \(ids)")
        }
    }

    @Test(.needs(.rootlessTestUsers)) func aRootlessBuildExportsAndSeedsAMountWithItsOwners() throws {
        try RootlessBuildTests.ensureUser()
        let f = try BuildFixture()
        try f.write("Dockerfile", BuildTests.base
            + "RUN --mount=type=cache,target=/c,id=X,uid=1000,gid=1001,mode=0750 echo hello > /c/seen && chown 1000:1000 /c/seen\n")
        #expect(try SaveLoadTests.shell("chmod 755 '\(f.dir.url.path)' && chown -R \(RootlessBuildTests.user) '\(f.dir.url.path)'").status == 0)
        let cache = f.dir.url.appending(path: "cache").path
        func build(_ state: String, _ arguments: String) throws -> ImgBinary.Result {
            try SaveLoadTests.shell("cd /tmp && runuser -u \(RootlessBuildTests.user) -- '\(ImgBinary.url.path)' -s '\(state)' build --progress plain -t app \(arguments) '\(f.context.path)'")
        }
        let cold = try build(f.dir.url.appending(path: "state-a").path, "--cache-to type=local,dest='\(cache)',cache-mounts=true")
        #expect(cold.status == 0, "\(cold.stderr)")
        // The mount's own mode and owner come from this RUN's options (the same ones: owner and mode are part
        // of a cache mount's identity, as in BuildKit).
        try f.write("Dockerfile", BuildTests.base + "RUN --mount=type=cache,target=/c,id=X,uid=1000,gid=1001,mode=0750 "
            + "stat -c '%u:%g' /c/seen > /out && stat -c '%u:%g %a' /c >> /out && cat /c/seen >> /out\n")
        #expect(try SaveLoadTests.shell("chown -R \(RootlessBuildTests.user) '\(f.context.path)'").status == 0)
        let stateB = f.dir.url.appending(path: "state-b").path
        let warm = try build(stateB, "--cache-from type=local,src='\(cache)' -o type=tar,dest='\(f.dir.url.path)/out.tar'")
        #expect(warm.status == 0, "\(warm.stderr)")
        #expect(BuildCacheTests.warnings(warm.stderr).isEmpty, "\(warm.stderr)")
        let out = try SaveLoadTests.shell("tar -xOf '\(f.dir.url.path)/out.tar' out")
        #expect(out.stdout == "1000:1000\n1000:1001 750\nhello\n", "the mount's owners are the container's\n\(out.stdout)\(out.stderr)")
    }

    @Test(.needs(.skopeo)) func compressionZstdStoresZstdLayersThatAnotherStateHits() throws {
        try Prerequisite.require(.skopeo)
        let f = try BuildFixture()
        try f.write("Dockerfile", BuildCacheTests.multiStage())
        let cache = f.dir.url.appending(path: "cache").path
        let a = Machine(f, "a"), b = Machine(f, "b")
        let cold = try a.build(["-t", "app", "--cache-to", "type=local,dest=\(cache),mode=max,compression=zstd"])
        #expect(cold.status == 0, "\(cold.stderr)")
        let made = BuildFixture.steps(cold.stderr).ran

        let skopeo = try SaveLoadTests.shell("skopeo inspect --raw oci:'\(cache)':latest")
        #expect(skopeo.status == 0, "\(skopeo.stderr)")
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(skopeo.stdout.utf8)) as? [String: Any])
        let layers = try #require(manifest["layers"] as? [[String: Any]]).filter {
            ($0["annotations"] as? [String: String])?["containerd.io/uncompressed"] != nil
        }
        #expect(!layers.isEmpty)
        #expect(layers.allSatisfy { $0["mediaType"] as? String == "application/vnd.oci.image.layer.v1.tar+zstd" }, "\(layers)")
        // The config names the converted blobs.
        let configLayers = try #require(try BuildCacheTests.cacheConfig(cache)["layers"] as? [[String: Any]])
        #expect(Set(configLayers.compactMap { $0["blob"] as? String }) == Set(layers.compactMap { $0["digest"] as? String }))
        let zstd = try SaveLoadTests.shell("cd '\(cache)/blobs/sha256' && zstd -t \(layers.compactMap { ($0["digest"] as? String)?.dropFirst(7) }.joined(separator: " "))")
        #expect(zstd.status == 0, "the blobs are zstd\n\(zstd.stderr)")

        let warm = try b.build(["-t", "app", "--cache-from", "type=local,src=\(cache)"])
        #expect(warm.status == 0, "\(warm.stderr)")
        let steps = BuildFixture.steps(warm.stderr)
        #expect(steps.ran.isEmpty && Set(steps.cached) == Set(made), "every step CACHED\n\(warm.stderr)")
        #expect(BuildCacheTests.warnings(warm.stderr).isEmpty, "\(warm.stderr)")
        let configA = try #require(try Self.configDigest(a, "app"))
        #expect(try Self.configDigest(b, "app") == configA, "the same image config")
        #expect(try b.file("app", "srv/artifact") == "built\n")

        // force-compression=true with a level (gzip, as no compression is named) redoes gzip layers too; the
        // cache still hits.
        let forced = f.dir.url.appending(path: "forced").path
        #expect(try a.build(["-t", "app", "--cache-to", "type=local,dest=\(forced),mode=max,compression-level=9,force-compression=true"]).status == 0)
        let plain = f.dir.url.appending(path: "plain").path
        #expect(try a.build(["-t", "app", "--cache-to", "type=local,dest=\(plain),mode=max"]).status == 0)
        let forcedBlobs = Set(try #require(try BuildCacheTests.cacheConfig(forced)["layers"] as? [[String: Any]]).compactMap { $0["blob"] as? String })
        let plainBlobs = Set(try #require(try BuildCacheTests.cacheConfig(plain)["layers"] as? [[String: Any]]).compactMap { $0["blob"] as? String })
        #expect(forcedBlobs.count == plainBlobs.count && forcedBlobs.isDisjoint(with: plainBlobs), "every layer recompressed")
        let c = Machine(f, "c")
        let again = try c.build(["-t", "app", "--cache-from", "type=local,src=\(forced)"])
        #expect(BuildFixture.steps(again.stderr).ran.isEmpty, "\(again.stderr)")
        #expect(try Self.configDigest(c, "app") == configA)
    }

    @Test func badCompressionAndCacheMountKeysAreOneLineErrors() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", BuildTests.base)
        let a = Machine(f, "a")
        let dest = f.dir.url.appending(path: "c").path
        let cases: [(String, String)] = [
            ("type=local,dest=\(dest),compression=brotli", "error: --cache-to: compression must be gzip, zstd or uncompressed, not \"brotli\""),
            ("type=local,dest=\(dest),compression-level=high", "error: --cache-to: compression-level must be a number, not \"high\""),
            ("type=local,dest=\(dest),compression=zstd,compression-level=30", "error: --cache-to: compression-level for zstd must be in 1...22"),
            ("type=local,dest=\(dest),compression-level=10", "error: --cache-to: compression-level for gzip must be in 0...9"),
            ("type=local,dest=\(dest),compression=uncompressed,compression-level=3", "error: --cache-to: compression-level needs compression=gzip or zstd"),
            ("type=local,dest=\(dest),force-compression=yes", "error: --cache-to: force-compression must be true or false"),
            ("type=registry,ref=localhost:5000/c,cache-mounts=maybe", "error: --cache-to: cache-mounts must be true or false"),
        ]
        for (spec, line) in cases {
            let result = try a.build(["--cache-to", spec])
            #expect(result.status != 0, "\(spec)")
            #expect(result.stderr.split(separator: "\n").map(String.init) == [line], "\(spec): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dest), "nothing written")
    }

    @Test(.needs(.gzip)) func noBlobOfACacheWithMountsAndModeMaxHoldsTheSecret() throws {
        try Prerequisite.require(.gzip)
        let f = try BuildFixture()
        let secret = "s3cr3t-\(UUID().uuidString)"
        let secretFile = f.dir.url.appending(path: "tok").path
        try Data(secret.utf8).write(to: URL(filePath: secretFile))
        try f.write("Dockerfile", BuildTests.base + """
            RUN --mount=type=secret,id=tok --mount=type=cache,target=/c,id=build \
                wc -c < /run/secrets/tok > /c/size && echo cache-mount-marker > /c/marker && cat /c/size > /size
            ENV AFTER=1
            RUN --mount=type=secret,id=tok,env=TOK test -n "$TOK" && cat /size > /size.copy

            """)
        let cache = f.dir.url.appending(path: "cache").path
        let a = Machine(f, "a")
        let cold = try a.build(["-t", "app", "--secret", "id=tok,src=\(secretFile)",
                                "--cache-to", "type=local,dest=\(cache),mode=max,cache-mounts=true"])
        #expect(cold.status == 0, "\(cold.stderr)")
        #expect(try Self.cacheMounts(cache).count == 1)
        // Every blob (layers and the cache mount decompressed, configs, the manifest) and index.json.
        func count(_ text: String) throws -> String {
            try SaveLoadTests.shell("""
                cd '\(cache)' && { cat index.json; for b in blobs/sha256/*; do gzip -dc "$b" 2>/dev/null || cat "$b"; done; } | grep -c -a '\(text)'
                """).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try count(secret) == "0")
        #expect(try count("cache-mount-marker") != "0", "the scan reads the cache mount's blob")
        #expect(try count("/size.copy") != "0", "the scan reads the records' configs")
    }
}
