import Foundation
import Glibc
import ImgOCI
import Testing
import ImgTestSupport

/// `--cache-to type=local` and `--cache-from type=local` through the real binary, with two state
/// directories standing for two machines: A builds and exports its cache, B (empty) builds the same
/// Dockerfile from it.
@Suite(.serialized, .needs(.busybox, .runc)) struct BuildCacheTests {
    /// Three stages: tools (busybox), a builder whose result the final stage copies, and the final stage.
    static func multiStage(final: String = "echo final > /final") -> String {
        """
        FROM scratch AS tools
        COPY busybox /bin/busybox
        RUN ["/bin/busybox", "--install", "-s", "/bin"]

        FROM tools AS builder
        RUN echo built > /artifact
        ENV BUILT=1
        RUN cat /artifact > /artifact.copy

        FROM tools
        WORKDIR /srv
        COPY --from=builder /artifact.copy /srv/artifact
        ENV FINAL=yes
        RUN \(final)
        CMD ["cat", "/srv/artifact"]

        """
    }

    /// A second machine: its own empty state directory, the same context.
    struct Machine {
        let f: BuildFixture
        let state: String

        init(_ f: BuildFixture, _ name: String) {
            self.f = f
            state = f.dir.url.appending(path: "state-\(name)").path
        }

        @discardableResult
        func build(_ arguments: [String], environment: [String: String] = [:]) throws -> ImgBinary.Result {
            try ImgBinary.run(["-s", state, "build", "--progress", "plain"] + arguments + [f.context.path], environment: environment)
        }

        /// The stored image's manifest digest (`img inspect`).
        func digest(_ image: String) throws -> String {
            let result = try ImgBinary.run(["-s", state, "inspect", image])
            guard result.status == 0,
                  let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
                  let descriptor = json["descriptor"] as? [String: Any], let digest = descriptor["digest"] as? String
            else { throw BuildFixtureError("img inspect \(image) failed: \(result.stderr)") }
            return digest
        }

        func file(_ image: String, _ path: String) throws -> String? {
            let out = f.dir.url.appending(path: "rootfs-\(UUID().uuidString)")
            let result = try ImgBinary.run(["-s", state, "unpack", "-o", out.path, image])
            guard result.status == 0 else { throw BuildFixtureError("img unpack \(image) failed: \(result.stderr)") }
            return try? String(contentsOf: out.appending(path: path), encoding: .utf8)
        }
    }

    /// The `warning:` lines of a command's output.
    static func warnings(_ output: String) -> [String] {
        output.split(separator: "\n").map(String.init).filter { $0.hasPrefix("warning:") && !$0.contains("no output specified") }
    }

    /// The cache config of the layout at `directory` (tag `latest`), read as plain JSON.
    static func cacheConfig(_ directory: String) throws -> [String: Any] {
        func json(_ path: String) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(filePath: path))) as? [String: Any])
        }
        let index = try json(directory + "/index.json")
        let entries = try #require(index["manifests"] as? [[String: Any]])
        let entry = try #require(entries.first { ($0["annotations"] as? [String: String])?["org.opencontainers.image.ref.name"] == "latest" })
        let manifestDigest = try #require((entry["digest"] as? String)?.split(separator: ":").last)
        let manifest = try json(directory + "/blobs/sha256/\(manifestDigest)")
        let config = try #require(manifest["config"] as? [String: Any])
        #expect(config["mediaType"] as? String == "application/vnd.buildkit.cacheconfig.v0")
        let configDigest = try #require((config["digest"] as? String)?.split(separator: ":").last)
        return try json(directory + "/blobs/sha256/\(configDigest)")
    }

    @Test(.needs(.skopeo)) func exportThenImportOnAnotherStateHitsEveryStepWithTheSameImage() throws {
        try Prerequisite.require(.skopeo)
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.multiStage())
        let cache = f.dir.url.appending(path: "cache").path
        let a = Machine(f, "a"), b = Machine(f, "b")

        let cold = try a.build(["-t", "app", "--cache-to", "type=local,dest=\(cache),mode=max"])
        #expect(cold.status == 0, "\(cold.stderr)")
        #expect(cold.stderr.contains("exported cache to \(cache)"), "\(cold.stderr)")
        let made = BuildFixture.steps(cold.stderr).ran
        #expect(made.count == 7, "\(cold.stderr)")

        let warm = try b.build(["-t", "app", "--cache-from", "type=local,src=\(cache)"])
        #expect(warm.status == 0, "\(warm.stderr)")
        let steps = BuildFixture.steps(warm.stderr)
        #expect(steps.ran.isEmpty, "every step CACHED on the second machine\n\(warm.stderr)")
        #expect(Set(steps.cached) == Set(made), "\(warm.stderr)")
        #expect(Self.warnings(warm.stderr).isEmpty, "\(warm.stderr)")
        #expect(warm.stderr.contains("--cache-from type=local,src=\(cache): 7 cached steps, "), "\(warm.stderr)")
        #expect(try b.digest("app") == (try a.digest("app")), "the same image on both machines")
        #expect(try b.file("app", "srv/artifact") == "built\n")
        #expect(try b.file("app", "final") == "final\n")

        // The format: BuildKit's cache config with img's key version, one record per step, layers chained.
        let config = try Self.cacheConfig(cache)
        #expect(config["img.keyVersion"] as? Int == 1)
        let records = try #require(config["records"] as? [[String: Any]])
        let layers = try #require(config["layers"] as? [[String: Any]])
        #expect(records.count == 7, "one record per step shown\n\(records)")
        #expect(records.allSatisfy { ($0["img.config"] as? String)?.hasPrefix("sha256:") == true })
        // The records' image configs travel inside the cache config too (base64, by digest): each the very
        // bytes of its blob, which the cache still holds.
        let embedded = try #require(config["img.configs"] as? [String: String])
        #expect(Set(embedded.keys) == Set(records.compactMap { $0["img.config"] as? String }))
        for (digest, text) in embedded {
            let blob = try Data(contentsOf: URL(filePath: "\(cache)/blobs/sha256/\(digest.dropFirst("sha256:".count))"))
            #expect(Data(base64Encoded: text) == blob, "\(digest)")
        }
        #expect(layers.first?["parent"] as? Int == -1)
        #expect(records.contains { ($0["inputs"] as? [[[String: Any]]])?.first?.first?["link"] is Int })

        // An independent OCI tool reads the cache manifest.
        let skopeo = try SaveLoadTests.shell("skopeo inspect --raw oci:'\(cache)':latest")
        #expect(skopeo.status == 0, "\(skopeo.stderr)")
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(skopeo.stdout.utf8)) as? [String: Any])
        #expect((manifest["config"] as? [String: Any])?["mediaType"] as? String == "application/vnd.buildkit.cacheconfig.v0")
        let blobs = try #require(manifest["layers"] as? [[String: Any]])
        let annotated = blobs.filter { ($0["annotations"] as? [String: String])?["containerd.io/uncompressed"]?.hasPrefix("sha256:") == true }
        #expect(annotated.count == layers.count, "every layer blob carries its diffID")
        #expect(blobs.filter { $0["mediaType"] as? String == "application/vnd.oci.image.config.v1+json" }.count == records.count)

        // The second machine's own cache now holds the steps: no --cache-from needed any more.
        let local = try b.build(["-t", "app"])
        #expect(BuildFixture.steps(local.stderr).ran.isEmpty, "\(local.stderr)")
    }

    /// A config-only step before the first layer (an ARG, with its history entry) takes its time from the
    /// build; a later rebuild, or another machine's build from the cache, still makes the very same image.
    @Test func aHistoryEntryBeforeTheFirstLayerKeepsRebuildsIdentical() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", "FROM scratch\nARG VERSION=1\nCOPY Dockerfile /Dockerfile\nENV V=$VERSION\n")
        let cache = f.dir.url.appending(path: "cache").path
        let a = Machine(f, "a"), b = Machine(f, "b")
        #expect(try a.build(["-t", "app", "--cache-to", "type=local,dest=\(cache),mode=max"]).status == 0)
        let first = try a.digest("app")
        Thread.sleep(forTimeInterval: 1.1)
        #expect(try a.build(["-t", "app"]).status == 0)
        #expect(try a.digest("app") == first, "an unchanged rebuild is the same image")
        let warm = try b.build(["-t", "app", "--cache-from", "type=local,src=\(cache)"])
        #expect(BuildFixture.steps(warm.stderr).ran.isEmpty, "\(warm.stderr)")
        #expect(try b.digest("app") == first, "and so is the other machine's")
    }

    /// BuildKit refuses a cache config over 1 MiB; img has no such limit. A cache whose config holds 6,000
    /// records (the real ones, plus records of other keys made from them, as a 1,000-step mode=max cache of
    /// several builds would be) imports and hits.
    @Test func aCacheConfigOverOneMebibyteImports() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.multiStage())
        let cache = f.dir.url.appending(path: "cache").path
        let a = Machine(f, "a"), b = Machine(f, "b")
        #expect(try a.build(["-t", "app", "--cache-to", "type=local,dest=\(cache),mode=max"]).status == 0)

        // Rewrite the layout: a bigger config, then the manifest naming it, then index.json naming that.
        func blobPath(_ digest: String) -> String { cache + "/blobs/sha256/" + digest.dropFirst("sha256:".count) }
        func write(_ object: Any) throws -> (digest: String, size: Int) {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            let digest = Digest.sha256(of: Array(data)).description
            try data.write(to: URL(filePath: blobPath(digest)))
            return (digest, data.count)
        }
        let indexPath = cache + "/index.json"
        var index = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(filePath: indexPath))) as? [String: Any])
        var entries = try #require(index["manifests"] as? [[String: Any]])
        let manifestDigest = try #require(entries[0]["digest"] as? String)
        var manifest = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(filePath: blobPath(manifestDigest)))) as? [String: Any])
        var config = try Self.cacheConfig(cache)
        var records = try #require(config["records"] as? [[String: Any]])
        let real = records
        for n in 0..<(6_000 - real.count) {
            var record = real[n % real.count]
            record["digest"] = Digest.sha256(of: Array("other key \(n)".utf8)).description
            records.append(record)
        }
        config["records"] = records
        let written = try write(config)
        #expect(written.size > 1 << 20, "\(written.size) bytes")
        var configDescriptor = try #require(manifest["config"] as? [String: Any])
        configDescriptor["digest"] = written.digest
        configDescriptor["size"] = written.size
        manifest["config"] = configDescriptor
        let manifestWritten = try write(manifest)
        entries[0]["digest"] = manifestWritten.digest
        entries[0]["size"] = manifestWritten.size
        index["manifests"] = entries
        try JSONSerialization.data(withJSONObject: index).write(to: URL(filePath: indexPath))

        let warm = try b.build(["-t", "app", "--cache-from", "type=local,src=\(cache)"])
        #expect(warm.status == 0, "\(warm.stderr)")
        #expect(BuildFixture.steps(warm.stderr).ran.isEmpty, "\(warm.stderr)")
        #expect(Self.warnings(warm.stderr).isEmpty, "\(warm.stderr)")
        #expect(try b.digest("app") == (try a.digest("app")))
    }

    @Test(arguments: ["min", "max"])
    func modeDecidesWhatHitsWhenOnlyTheFinalStageChanged(mode: String) throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.multiStage())
        let cache = f.dir.url.appending(path: "cache").path
        let a = Machine(f, "a"), b = Machine(f, "b")
        let cold = try a.build(["-t", "app", "--cache-to", "type=local,dest=\(cache),mode=\(mode)"])
        #expect(cold.status == 0, "\(cold.stderr)")
        let records = try #require(try Self.cacheConfig(cache)["records"] as? [[String: Any]])
        // min: the final image's chain (tools' COPY and RUN, the final stage's WORKDIR, COPY and RUN);
        // max: the builder's two RUNs too.
        #expect(records.count == (mode == "min" ? 5 : 7), "\(records)")

        try f.write("Dockerfile", Self.multiStage(final: "echo changed > /final"))
        let edited = try b.build(["-t", "app", "--cache-from", "type=local,src=\(cache)"])
        #expect(edited.status == 0, "\(edited.stderr)")
        let steps = BuildFixture.steps(edited.stderr)
        func named(_ titles: [String]) -> Set<String> {
            Set(titles.map { String($0.split(separator: "]", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) })
        }
        if mode == "max" {
            #expect(named(steps.ran) == ["RUN echo changed > /final"], "\(edited.stderr)")
        } else {
            #expect(named(steps.ran) == ["RUN echo built > /artifact", "RUN cat /artifact > /artifact.copy",
                                         "RUN echo changed > /final"], "\(edited.stderr)")
        }
        #expect(named(steps.cached).isSuperset(of: ["COPY busybox /bin/busybox", "WORKDIR /srv",
                                                    "COPY --from=builder /artifact.copy /srv/artifact"]), "\(edited.stderr)")
        #expect(try b.file("app", "final") == "changed\n")
        #expect(try b.file("app", "srv/artifact") == "built\n")
    }

    @Test func aCorruptBlobIsAWarningAndTheStepRuns() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.multiStage())
        let cache = f.dir.url.appending(path: "cache").path
        let a = Machine(f, "a"), b = Machine(f, "b")
        #expect(try a.build(["-t", "app", "--cache-to", "type=local,dest=\(cache),mode=max"]).status == 0)

        // The busybox layer, the biggest blob, overwritten with as many zero bytes: the size still matches,
        // the digest does not.
        let blobs = cache + "/blobs/sha256"
        let names = try FileManager.default.contentsOfDirectory(atPath: blobs)
        let biggest = try #require(names.max { (try? size(blobs + "/" + $0)) ?? 0 < (try? size(blobs + "/" + $1)) ?? 0 })
        let length = try size(blobs + "/" + biggest)
        try Data(count: Int(length)).write(to: URL(filePath: blobs + "/" + biggest))

        let result = try b.build(["-t", "app", "--cache-from", "type=local,src=\(cache)"])
        #expect(result.status == 0, "\(result.stderr)")
        let warnings = Self.warnings(result.stderr)
        #expect(warnings.count == 1, "one warning for the one bad blob\n\(result.stderr)")
        #expect(warnings.first?.hasPrefix("warning: --cache-from type=local,src=\(cache): ") == true, "\(warnings)")
        #expect(warnings.first?.contains(biggest) == true, "\(warnings)")
        // The step that made the layer runs again; the steps above it take their own layers from the cache
        // once the layer below is there (or run too, should the new layer differ). The image is right.
        #expect(BuildFixture.steps(result.stderr).ran.contains("[tools 2/3] COPY busybox /bin/busybox"), "\(result.stderr)")
        #expect(try b.file("app", "srv/artifact") == "built\n")
        #expect(try b.file("app", "final") == "final\n")

        // Exporting to the directory again heals it: a blob that is there with the right size is kept only if
        // its digest matches.
        #expect(try a.build(["-t", "app", "--cache-to", "type=local,dest=\(cache),mode=max"]).status == 0)
        let healed = try Machine(f, "d").build(["-t", "app", "--cache-from", "type=local,src=\(cache)"])
        #expect(BuildFixture.steps(healed.stderr).ran.isEmpty, "\(healed.stderr)")
        #expect(Self.warnings(healed.stderr).isEmpty, "\(healed.stderr)")

        // A corrupt index.json: one warning, and the build goes on without the cache.
        try Data("{not json".utf8).write(to: URL(filePath: cache + "/index.json"))
        let c = Machine(f, "c")
        let again = try c.build(["-t", "app", "--cache-from", "type=local,src=\(cache)"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(Self.warnings(again.stderr) == ["warning: --cache-from type=local,src=\(cache): \(cache)/index.json is not an OCI index; building without it"],
                "\(again.stderr)")
    }

    @Test func aMissingCacheIsOneWarningAndTheBuildSucceeds() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", BuildTests.base)
        let missing = f.dir.url.appending(path: "no-such-cache").path
        let other = f.dir.url.appending(path: "cache").path
        let a = Machine(f, "a")
        let result = try a.build(["-t", "app", "--cache-from", "type=local,src=\(missing)",
                                  "--cache-to", "type=local,dest=\(other),tag=v1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Self.warnings(result.stderr) == ["warning: --cache-from type=local,src=\(missing): no cache at \(missing); building without it"],
                "\(result.stderr)")
        // Sources are tried in order: a missing one, then one that has the steps (under its tag).
        let b = Machine(f, "b")
        let warm = try b.build(["-t", "app", "--cache-from", "type=local,src=\(missing)",
                                "--cache-from", "type=local,src=\(other),tag=v1"])
        #expect(warm.status == 0, "\(warm.stderr)")
        #expect(BuildFixture.steps(warm.stderr).ran.isEmpty, "\(warm.stderr)")
        #expect(BuildFixture.steps(warm.stderr).cached.count == 2, "\(warm.stderr)")
        // A tag the directory does not hold is one warning too.
        let c = Machine(f, "c")
        let untagged = try c.build(["--cache-from", "type=local,src=\(other)"])
        #expect(untagged.status == 0, "\(untagged.stderr)")
        #expect(Self.warnings(untagged.stderr) == ["warning: --cache-from type=local,src=\(other): no cache tagged \"latest\" in \(other); building without it"],
                "\(untagged.stderr)")
    }

    @Test func twoTagsShareOneDirectoryAndAReexportReplacesItsTag() throws {
        let f = try BuildFixture()
        let cache = f.dir.url.appending(path: "cache").path
        let a = Machine(f, "a")
        try f.write("Dockerfile", BuildTests.base + "RUN echo one > /marker\n")
        #expect(try a.build(["-t", "one", "--cache-to", "type=local,dest=\(cache),tag=one"]).status == 0)
        try f.write("Dockerfile", BuildTests.base + "RUN echo two > /marker\n")
        #expect(try a.build(["-t", "two", "--cache-to", "type=local,dest=\(cache),tag=two"]).status == 0)
        #expect(try a.build(["-t", "two", "--cache-to", "type=local,dest=\(cache),tag=two"]).status == 0)
        let index = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(filePath: cache + "/index.json"))) as? [String: Any])
        let tags = (index["manifests"] as? [[String: Any]] ?? []).compactMap { ($0["annotations"] as? [String: String])?["org.opencontainers.image.ref.name"] }
        #expect(tags.sorted() == ["one", "two"], "\(tags)")

        let b = Machine(f, "b")
        try f.write("Dockerfile", BuildTests.base + "RUN echo one > /marker\n")
        let warm = try b.build(["-t", "one", "--cache-from", "type=local,src=\(cache),tag=one"])
        #expect(BuildFixture.steps(warm.stderr).ran.isEmpty, "\(warm.stderr)")
        #expect(try b.file("one", "marker") == "one\n")
    }

    @Test func twoExportsToOneDirectoryAtOnceLeaveOneValidCache() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.multiStage())
        let cache = f.dir.url.appending(path: "cache").path
        let machines = [Machine(f, "a"), Machine(f, "a2")]
        let results = Results()
        let states = machines.map(\.state), context = f.context.path
        DispatchQueue.concurrentPerform(iterations: states.count) { index in
            let result = try? ImgBinary.run(["-s", states[index], "build", "--progress", "plain", "-t", "app",
                                             "--cache-to", "type=local,dest=\(cache),mode=max", context])
            results.set(index, result)
        }
        for index in machines.indices {
            let result = try #require(results.get(index))
            #expect(result.status == 0, "\(result.stderr)")
        }
        let b = Machine(f, "b")
        let warm = try b.build(["-t", "app", "--cache-from", "type=local,src=\(cache)"])
        #expect(warm.status == 0, "\(warm.stderr)")
        #expect(BuildFixture.steps(warm.stderr).ran.isEmpty, "\(warm.stderr)")
        #expect(Self.warnings(warm.stderr).isEmpty, "\(warm.stderr)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: cache + "/blobs/sha256").filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [Int: ImgBinary.Result] = [:]
        func set(_ index: Int, _ value: ImgBinary.Result?) { lock.withLock { values[index] = value } }
        func get(_ index: Int) -> ImgBinary.Result? { lock.withLock { values[index] } }
    }

    @Test(.needs(.gzip)) func theCacheNeverHoldsASecret() throws {
        try Prerequisite.require(.gzip)
        let f = try BuildFixture()
        let secret = "s3cr3t-\(UUID().uuidString)"
        let secretFile = f.dir.url.appending(path: "token").path
        try Data(secret.utf8).write(to: URL(filePath: secretFile))
        try f.write("Dockerfile", BuildTests.base + """
            RUN --mount=type=secret,id=token wc -c < /run/secrets/token > /size
            ENV AFTER=1
            RUN cat /size > /size.copy

            """)
        let cache = f.dir.url.appending(path: "cache").path
        let a = Machine(f, "a")
        let cold = try a.build(["-t", "app", "--secret", "id=token,src=\(secretFile)",
                                "--cache-to", "type=local,dest=\(cache),mode=max"])
        #expect(cold.status == 0, "\(cold.stderr)")
        // Every blob of the cache, layers uncompressed, and index.json: none holds the secret.
        func count(_ text: String) throws -> String {
            try SaveLoadTests.shell("""
                cd '\(cache)' && { cat index.json; for b in blobs/sha256/*; do gzip -dc "$b" 2>/dev/null || cat "$b"; done; } | grep -c -a '\(text)'
                """).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try count(secret) == "0")
        #expect(try count("/size.copy") != "0", "the scan does read the records' configs and layers")
        let b = Machine(f, "b")
        let warm = try b.build(["-t", "app", "--secret", "id=token,src=\(secretFile)", "--cache-from", "type=local,src=\(cache)"])
        #expect(BuildFixture.steps(warm.stderr).ran.isEmpty, "\(warm.stderr)")
        #expect(try b.file("app", "size.copy")?.trimmingCharacters(in: .whitespacesAndNewlines) == "\(secret.utf8.count)")
    }

    @Test func severalPlatformsShareOneCache() throws {
        let f = try BuildFixture()
        // No RUN: nothing needs to execute for the foreign platform.
        try f.write("a.txt", "hi\n")
        try f.write("Dockerfile", "FROM scratch\nCOPY a.txt /a.txt\nENV X=1\nWORKDIR /w\nCOPY a.txt b.txt\n")
        let cache = f.dir.url.appending(path: "cache").path
        let a = Machine(f, "a"), b = Machine(f, "b")
        let platforms = ["--platform", "linux/amd64,linux/arm64"]
        // WORKDIR's directory has the time it was made: with the platforms' steps a second apart their layers
        // would differ. A fixed epoch makes them the same blobs whenever the steps run.
        let epoch = ["SOURCE_DATE_EPOCH": "1700000000"]
        let cold = try a.build(platforms + ["-t", "multi", "--cache-to", "type=local,dest=\(cache)"], environment: epoch)
        #expect(cold.status == 0, "\(cold.stderr)")
        let records = try #require(try Self.cacheConfig(cache)["records"] as? [[String: Any]])
        #expect(records.count == 6, "three steps for each platform: \(records.count)")
        let warm = try b.build(platforms + ["-t", "multi", "--cache-from", "type=local,src=\(cache)"], environment: epoch)
        #expect(warm.status == 0, "\(warm.stderr)")
        #expect(BuildFixture.steps(warm.stderr).ran.isEmpty && BuildFixture.steps(warm.stderr).cached.count == 6, "\(warm.stderr)")
        // The two platforms' layers are the same blobs: each is copied in once.
        #expect(warm.stderr.contains(": 6 cached steps, 9 blobs ("), "six configs and three layers\n\(warm.stderr)")
        #expect(try b.digest("multi") == (try a.digest("multi")))
    }

    @Test func badCacheFlagsAreOneLineErrors() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", BuildTests.base)
        let a = Machine(f, "a")
        let cases: [([String], String)] = [
            (["--cache-to", "type=x,dest=/tmp/c"], "error: --cache-to: unknown type \"x\""),
            (["--cache-to", "type=local"], "error: --cache-to: type=local needs dest=DIR"),
            (["--cache-to", "type=local,dest=/tmp/c,mode=all"], "error: --cache-to: mode must be min or max, not \"all\""),
            (["--cache-to", "type=local,dest=/tmp/c,colour=red"], "error: --cache-to: unknown key \"colour\" for type=local"),
            (["--cache-to", "type=local,dest=/tmp/c,ignore-error=maybe"], "error: --cache-to: ignore-error must be true or false"),
            (["--cache-to", "dest=/tmp/c"], "error: --cache-to: missing type= (img supports type=local, type=registry and type=inline)"),
            (["--cache-to", "type=inline,mode=max"],
             "error: --cache-to: type=inline supports mode=min only (the image carries the steps that made it): use type=registry or type=local for mode=max"),
            (["--cache-to", "type=inline,ref=localhost:5000/c"], "error: --cache-to: unknown key \"ref\" for type=inline"),
            (["--cache-to", "type=gha"], "error: --cache-to: type=gha is not supported yet (img supports type=local, type=registry and type=inline)"),
            (["--cache-from", "not a reference"], "error: --cache-from: invalid ref \"not a reference\": invalid reference \"not a reference\": invalid repository name \"not a reference\""),
            (["--cache-to", "type=registry,dest=/tmp/c"], "error: --cache-to: unknown key \"dest\" for type=registry"),
            (["--cache-to", "type=registry"], "error: --cache-to: type=registry needs ref=HOST/REPO:TAG"),
            (["--cache-to", "type=registry,ref=localhost:5000/c,image-manifest=false"],
             "error: --cache-to: image-manifest=false is not supported (img writes the cache as an OCI image manifest)"),
            (["--cache-to", "type=local,dest=/tmp/c,registry.insecure=true"], "error: --cache-to: unknown key \"registry.insecure\" for type=local"),
            (["--cache-from", "type=local"], "error: --cache-from: type=local needs src=DIR"),
            (["--cache-from", "type=inline"],
             "error: --cache-from: type=inline is written with --cache-to; to read an image's inline cache give its reference (--cache-from HOST/REPO:TAG)"),
        ]
        for (arguments, line) in cases {
            let result = try a.build(arguments)
            #expect(result.status != 0, "\(arguments)")
            let lines = result.stderr.split(separator: "\n").map(String.init)
            #expect(lines == [line], "\(arguments): \(result.stderr)")
        }
    }

    @Test func aFailedExportIsAnErrorUnlessIgnored() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", BuildTests.base)
        let blocker = f.dir.url.appending(path: "file").path
        try Data("x".utf8).write(to: URL(filePath: blocker))
        let a = Machine(f, "a")
        let failed = try a.build(["-t", "app", "--cache-to", "type=local,dest=\(blocker)/cache"])
        #expect(failed.status != 0, "\(failed.stderr)")
        let errors = failed.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(errors.count == 1 && errors[0].hasPrefix("error: --cache-to type=local,dest=\(blocker)/cache: "), "\(failed.stderr)")

        let ignored = try a.build(["-t", "app", "--cache-to", "type=local,dest=\(blocker)/cache,ignore-error=true"])
        #expect(ignored.status == 0, "\(ignored.stderr)")
        let warnings = Self.warnings(ignored.stderr)
        #expect(warnings.count == 1 && warnings[0].hasPrefix("warning: --cache-to type=local,dest=\(blocker)/cache,ignore-error=true: "),
                "\(ignored.stderr)")
    }
}

private func size(_ path: String) throws -> Int64 {
    (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
}
