import Foundation
import Glibc
import ImgRegistry
import ImgSystem
import Testing
import ImgTestSupport

/// `img build --network`, `--add-host`, `--shm-size`, `--ulimit`, `--annotation` and `--no-cache-filter`
/// through the real binary: what RUN steps see, what the outputs' manifests carry, which steps run again.
@Suite(.serialized, .needs(.busybox, .runc)) struct BuildRunFlagsTests {
    static let base = BuildTests.base

    /// Each RUN writes what it sees into the image, read back with `img unpack`.
    static let probe = base + """
        RUN cat /etc/hosts > /hosts
        RUN tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > /net-default
        RUN --network=host tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > /net-host
        RUN grep ' /dev/shm ' /proc/mounts > /shm
        RUN ulimit -n > /nofile-soft && ulimit -Hn > /nofile-hard

        """

    static let flags = ["--network", "none", "--add-host", "db.internal:10.1.2.3", "--add-host", "v6host=fd00::1",
                        "--shm-size", "128m", "--ulimit", "nofile=1024:2048"]

    @Test func runStepsSeeNetworkHostsShmAndUlimits() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.probe)
        let built = try f.build(["-t", "probe"] + Self.flags)
        #expect(built.status == 0, "\(built.stderr)")
        let rootfs = try f.unpack("probe")
        func text(_ path: String) -> String {
            ((try? String(contentsOf: rootfs.appending(path: path), encoding: .utf8)) ?? "")
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let hosts = text("hosts")
        #expect(hosts.contains("10.1.2.3\tdb.internal") && hosts.contains("fd00::1\tv6host"), "\(hosts)")
        #expect(hosts.contains("localhost"), "the usual lines stay: \(hosts)")
        // --network none is the default of RUN steps; a RUN's own --network=host wins.
        #expect(text("net-default") == "lo", "\(text("net-default"))")
        #expect(text("net-host").split(separator: "\n").contains { $0 != "lo" }, "\(text("net-host"))")
        #expect(text("shm").contains("size=131072k"), "\(text("shm"))")
        #expect(text("nofile-soft") == "1024" && text("nofile-hard") == "2048", "\(text("nofile-soft")) \(text("nofile-hard"))")
        // The generated hosts file is bound in, never part of a layer.
        #expect(!FileManager.default.fileExists(atPath: rootfs.appending(path: "etc/hosts").path))

        // Without the flags: the host's network, 64 MiB /dev/shm, the host's /etc/hosts.
        let plain = try f.build(["-t", "plain"])
        #expect(plain.status == 0, "\(plain.stderr)")
        let plainRoot = try f.unpack("plain")
        let plainNet = (try? String(contentsOf: plainRoot.appending(path: "net-default"), encoding: .utf8)) ?? ""
        #expect(plainNet.split(separator: "\n").contains { $0 != "lo" }, "\(plainNet)")
        let plainShm = (try? String(contentsOf: plainRoot.appending(path: "shm"), encoding: .utf8)) ?? ""
        #expect(plainShm.contains("size=65536k"), "\(plainShm)")
        let plainHosts = (try? String(contentsOf: plainRoot.appending(path: "hosts"), encoding: .utf8)) ?? ""
        #expect(!plainHosts.contains("db.internal"))
    }

    @Test func runFlagsArePartOfTheRunKeys() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.probe)
        #expect(try f.build(["-t", "probe"] + Self.flags).status == 0)
        // The same flags: every step from the cache.
        let again = try f.build(["-t", "probe"] + Self.flags)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(BuildFixture.steps(again.stderr).ran.isEmpty, "\(again.stderr)")
        // Another address for the same name: still cached (BuildKit keys extra hosts by name only).
        var moved = Self.flags
        moved[moved.firstIndex(of: "db.internal:10.1.2.3")!] = "db.internal:10.9.9.9"
        let addressOnly = try f.build(["-t", "probe"] + moved)
        #expect(addressOnly.status == 0 && BuildFixture.steps(addressOnly.stderr).ran.isEmpty, "\(addressOnly.stderr)")
        // Another --ulimit: the RUN steps run again and say why.
        var limits = Self.flags
        limits[limits.firstIndex(of: "nofile=1024:2048")!] = "nofile=512:2048"
        let changed = try f.build(["-t", "probe"] + limits)
        #expect(changed.status == 0, "\(changed.stderr)")
        let ran = BuildFixture.steps(changed.stderr).ran
        #expect(ran.count == 6 && ran.allSatisfy { $0.contains("RUN") }, "\(ran)")
        #expect(changed.stderr.contains("--ulimit changed"), "\(changed.stderr)")
        // Without --network none the RUN steps that name no network are keyed with the host's, as before.
        let network = try f.build(["-t", "probe"] + limits.filter { $0 != "--network" && $0 != "none" })
        #expect(network.status == 0 && network.stderr.contains("cache miss: --network changed"), "\(network.stderr)")
        let plain = try f.build(["-t", "probe"] + limits.filter { $0 != "--network" && $0 != "none" } + ["--network", "default"])
        #expect(plain.status == 0 && BuildFixture.steps(plain.stderr).ran.isEmpty, "--network default is the host's: \(plain.stderr)")
    }

    @Test func noCacheFilterRunsOnlyThatStageAgain() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", """
            FROM scratch AS base
            COPY busybox /bin/busybox
            RUN ["/bin/busybox", "--install", "-s", "/bin"]
            FROM base AS One
            RUN date +%s%N > /one
            FROM base AS two
            RUN date +%s%N > /two
            COPY --from=One /one /one

            """)
        #expect(try f.build(["-t", "stages"]).status == 0)
        let filtered = try f.build(["-t", "stages", "--no-cache-filter", "one"])
        #expect(filtered.status == 0, "\(filtered.stderr)")
        let steps = BuildFixture.steps(filtered.stderr)
        #expect(steps.ran.count == 1 && steps.ran.allSatisfy { $0.hasPrefix("[One ") }, "\(steps.ran)")
        #expect(steps.cached.contains { $0.hasPrefix("[two ") } && steps.cached.contains { $0.hasPrefix("[base ") },
                "\(steps.cached)")
        #expect(filtered.stderr.contains("cache miss: --no-cache-filter One"), "\(filtered.stderr)")
        // Comma-separated and repeated: both stages run, base still cached.
        let both = try f.build(["-t", "stages", "--no-cache-filter", "one,TWO", "--no-cache-filter", "one"])
        let bothSteps = BuildFixture.steps(both.stderr)
        #expect(both.status == 0 && bothSteps.ran.count == 3 && !bothSteps.ran.contains { $0.hasPrefix("[base ") },
                "\(bothSteps.ran)")
        // An unknown stage: a one-line error naming the flag, nothing built.
        let unknown = try f.build(["-t", "stages", "--no-cache-filter", "nope"])
        #expect(unknown.status != 0, "\(unknown.stderr)")
        #expect(Self.oneLine(unknown.stderr).contains("--no-cache-filter nope: no such stage (stages: base, one, two)"),
                "\(unknown.stderr)")
    }

    @Test func annotationsGoIntoTheOCIManifestAndIndex() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", "FROM scratch\nCOPY busybox /bin/busybox\n")
        // One platform: manifest annotations in the manifest, manifest-descriptor ones on index.json's entry.
        let single = f.dir.url.appending(path: "single.tar").path
        let built = try f.build(["-o", "type=oci,dest=\(single)", "--annotation", "org.example.plain=1",
                                 "--annotation", "manifest:org.example.typed=2",
                                 "--annotation", "manifest-descriptor:org.example.entry=3"])
        #expect(built.status == 0, "\(built.stderr)")
        let layout = try Self.layout(single, in: f)
        let entry = try #require((layout.index["manifests"] as? [[String: Any]])?.first)
        #expect((entry["annotations"] as? [String: String])?["org.example.entry"] == "3", "\(entry)")
        let manifest = try layout.blob(entry["digest"] as! String)
        let annotations = manifest["annotations"] as? [String: String] ?? [:]
        #expect(annotations["org.example.plain"] == "1" && annotations["org.example.typed"] == "2", "\(manifest)")
        #expect(annotations["org.example.entry"] == nil)
        // An annotation changes the manifest's digest.
        let bare = f.dir.url.appending(path: "bare.tar").path
        #expect(try f.build(["-o", "type=oci,dest=\(bare)"]).status == 0)
        let bareEntry = try #require((try Self.layout(bare, in: f).index["manifests"] as? [[String: Any]])?.first)
        #expect(bareEntry["digest"] as? String != entry["digest"] as? String)
        // Index annotations need an index.
        let noIndex = try f.build(["-o", "type=oci,dest=\(bare)", "--annotation", "index:org.example.i=1"])
        #expect(noIndex.status != 0 && Self.oneLine(noIndex.stderr).contains("--annotation index:org.example.i: a single-platform image has no index"),
                "\(noIndex.stderr)")

        // Two platforms (no RUN, so no emulator): the index, its entries and one platform's manifest.
        let multi = f.dir.url.appending(path: "multi.tar").path
        let many = try f.build(["--platform", "linux/amd64,linux/arm64", "-o", "type=oci,dest=\(multi)",
                                "--annotation", "index:org.example.index=i",
                                "--annotation", "index-descriptor:org.example.layout=l",
                                "--annotation", "manifest-descriptor:org.example.each=d",
                                "--annotation", "manifest[linux/arm64]:org.example.arch=arm64",
                                "--annotation", "org.example.all=a"])
        #expect(many.status == 0, "\(many.stderr)")
        let multiLayout = try Self.layout(multi, in: f)
        let indexEntry = try #require((multiLayout.index["manifests"] as? [[String: Any]])?.first)
        #expect((indexEntry["annotations"] as? [String: String])?["org.example.layout"] == "l", "\(indexEntry)")
        let index = try multiLayout.blob(indexEntry["digest"] as! String)
        #expect((index["annotations"] as? [String: String])?["org.example.index"] == "i", "\(index)")
        let entries = try #require(index["manifests"] as? [[String: Any]])
        #expect(entries.count == 2)
        for platformEntry in entries {
            #expect((platformEntry["annotations"] as? [String: String])?["org.example.each"] == "d", "\(platformEntry)")
            let arch = (platformEntry["platform"] as? [String: Any])?["architecture"] as? String
            let platformManifest = try multiLayout.blob(platformEntry["digest"] as! String)
            let values = platformManifest["annotations"] as? [String: String] ?? [:]
            #expect(values["org.example.all"] == "a")
            #expect(values["org.example.arch"] == (arch == "arm64" ? "arm64" : nil), "\(arch ?? "") \(values)")
        }
    }

    @Test(.needs(.dockerRegistry, .python3, .skopeo))
    func annotationsArePushed() async throws {
        try Prerequisite.require(.dockerRegistry, .python3, .skopeo)
        let f = try BuildFixture()
        try f.write("Dockerfile", "FROM scratch\nCOPY busybox /bin/busybox\n")
        try await withRegistry { registry in
            let name = "\(registry.host)/test/annotated:v1"
            // Without provenance, the pushed root is the manifest itself (with it, an index: ProvenanceTests).
            let pushed = try f.build(["-t", name, "--push", "--provenance=false", "--annotation", "org.opencontainers.image.title=Annotated"])
            #expect(pushed.status == 0, "\(pushed.stderr)")
            let raw = try HelperProcess.run("skopeo", ["inspect", "--tls-verify=false", "--raw", "docker://\(name)"])
            let manifest = try JSONSerialization.jsonObject(with: Data(raw.stdout)) as? [String: Any]
            #expect((manifest?["annotations"] as? [String: String])?["org.opencontainers.image.title"] == "Annotated",
                    "\(String(decoding: raw.stdout, as: UTF8.self)) \(String(decoding: raw.stderr, as: UTF8.self))")
            // The stored image is the pushed one.
            let stored = try f.img(["ls"])
            let digest = String(decoding: try HelperProcess.run("skopeo", ["inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://\(name)"]).stdout, as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!digest.isEmpty && stored.stdout.contains(digest), "\(stored.stdout) \(digest)")
        }
    }

    @Test func malformedValuesAreOneLineErrorsNamingTheFlag() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.base)
        let cases: [([String], String)] = [
            (["--ulimit", "nofile=abc"], "--ulimit nofile=abc: abc is not a number"),
            (["--ulimit", "nofile=10:5"], "--ulimit nofile=10:5: soft limit 10 is above the hard limit 5"),
            (["--ulimit", "files=1"], "--ulimit files=1: unknown type files"),
            (["--ulimit", "nofile"], "--ulimit nofile: expected TYPE=SOFT[:HARD]"),
            (["--shm-size", "lots"], "--shm-size lots: expected a size"),
            (["--shm-size", "0"], "--shm-size 0: expected a size"),
            (["--add-host", "justaname"], "--add-host justaname: expected HOST:IP or HOST=IP"),
            (["--add-host", "h:999.1.1.1"], "--add-host h:999.1.1.1: invalid IP address"),
            (["--add-host", "h:host-gateway"], "--add-host h:host-gateway: host-gateway is not supported"),
            (["--network", "bridge"], "--network bridge: unknown network mode (known: default, none, host)"),
            (["--annotation", "novalue"], "--annotation novalue: expected [TYPE:]KEY=VALUE"),
            (["--annotation", "layer:k=v"], "--annotation layer:k=v: unknown type \"layer\""),
            (["--annotation", "index[linux/amd64]:k=v"], "--annotation index[linux/amd64]:k=v: an index annotation names no platform"),
            (["--no-cache-filter", ","], "--no-cache-filter ,: empty stage name"),
        ]
        for (arguments, message) in cases {
            let result = try f.build(["-t", "x"] + arguments)
            #expect(result.status != 0, "\(arguments)")
            #expect(Self.oneLine(result.stderr).contains(message), "\(arguments): \(result.stderr)")
        }
        // A size with a unit and a plain byte count both work.
        try f.write("Dockerfile", Self.base + "RUN grep ' /dev/shm ' /proc/mounts > /shm\n")
        #expect(try f.build(["-t", "bytes", "--shm-size", "33554432"]).status == 0)
        let shm = try String(contentsOf: try f.unpack("bytes").appending(path: "shm"), encoding: .utf8)
        #expect(shm.contains("size=32768k"), "\(shm)")
    }

    @Test(.needs(.rootlessTestUsers)) func rootlessUlimitAndAddHost() throws {
        try Prerequisite.require(.rootlessTestUsers)
        try RootlessBuildTests.ensureUser()
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.base + "RUN cat /etc/hosts > /hosts && ulimit -n > /nofile && ulimit -Hn >> /nofile\n")
        #expect(try SaveLoadTests.shell("chmod 755 '\(f.dir.url.path)' && chown -R \(RootlessBuildTests.user) '\(f.dir.url.path)'").status == 0)
        let output = f.dir.url.appending(path: "out").path
        func rootless(_ flags: String) throws -> ImgBinary.Result {
            let command = "cd /tmp && '\(ImgBinary.url.path)' -s '\(f.state)' build --progress plain \(flags) '\(f.context.path)'"
            return try SaveLoadTests.shell("runuser -u \(RootlessBuildTests.user) -- sh -c \"\(command)\"")
        }
        let built = try rootless("--ulimit nofile=512:1024 --add-host rootless.test:10.0.0.7 -o type=local,dest='\(output)'")
        #expect(built.status == 0, "\(built.stderr)")
        let hosts = (try? String(contentsOfFile: output + "/hosts", encoding: .utf8)) ?? ""
        #expect(hosts.contains("10.0.0.7\trootless.test"), "\(hosts)")
        let nofile = (try? String(contentsOfFile: output + "/nofile", encoding: .utf8)) ?? ""
        #expect(nofile == "512\n1024\n", "\(nofile)")
        // Above img's own hard limit: the kernel refuses it to a user namespace; img says which flag.
        let raised = try rootless("--ulimit nofile=1024:unlimited -o type=local,dest='\(output)-2'")
        #expect(raised.status != 0, "\(raised.stderr)")
        #expect(raised.stderr.contains("--ulimit nofile: hard limit") && raised.stderr.contains("rootless img cannot raise"),
                "\(raised.stderr)")
    }

    @Test func helpNamesEveryNewFlag() throws {
        let help = try ImgBinary.run(["build", "--help"])
        #expect(help.status == 0)
        for flag in ["--network", "--add-host", "--shm-size", "--ulimit", "--annotation", "--no-cache-filter"] {
            #expect(help.stdout.contains(flag), "\(flag)")
        }
    }

    /// The error line of a failed command: it must be the only line that is not progress.
    static func oneLine(_ stderr: String) -> String {
        let lines = stderr.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
        return lines.count == 1 ? String(lines[0]) : "more than one line: \(stderr)"
    }

    /// An OCI archive unpacked: its index.json, and its blobs by digest.
    struct Layout {
        let directory: String
        let index: [String: Any]

        func blob(_ digest: String) throws -> [String: Any] {
            let path = directory + "/blobs/sha256/" + digest.replacingOccurrences(of: "sha256:", with: "")
            return try JSONSerialization.jsonObject(with: Data(contentsOf: URL(filePath: path))) as? [String: Any] ?? [:]
        }
    }

    static func layout(_ archive: String, in f: BuildFixture) throws -> Layout {
        let directory = f.dir.url.appending(path: "layout-\(UUID().uuidString)").path
        #expect(try SaveLoadTests.shell("mkdir -p '\(directory)' && tar -xf '\(archive)' -C '\(directory)'").status == 0)
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(filePath: directory + "/index.json")))
        return Layout(directory: directory, index: index as? [String: Any] ?? [:])
    }
}
