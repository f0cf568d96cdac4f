import Foundation
import ImgSystem
import ImgContent
import ImgOCI
import Testing
import ImgTestSupport

/// `img save` and `img load` through the real binary; archives checked with skopeo as an independent reader.
@Suite struct SaveLoadTests {
    /// Runs a shell script. Spawned with a clean signal mask (not Foundation's Process, whose children
    /// inherit the test thread's blocked SIGCHLD: a script's `wait` then never returns).
    static func shell(_ command: String) throws -> ImgBinary.Result {
        let result = try ChildProcess.collect(executable: "/bin/sh", arguments: ["-c", command])
        return ImgBinary.Result(status: result.status.shellCode, stdout: result.stdout, stderr: result.stderr)
    }

    static func makeImage(_ dir: TemporaryDirectory) async throws {
        let state = try StateDirectory(root: dir.url.path)
        try await UnpackTests.storeImage(state, name: "example/app:1.0", layers: [
            { root in try UnpackTests.write(root.appending(path: "etc/motd"), "hello\n") },
            { root in try UnpackTests.write(root.appending(path: "srv/data"), "second layer\n") },
        ])
    }

    @Test(.needs(.skopeo, .umoci), arguments: ["docker", "oci"])
    func saveIsReadBySkopeoAndLoadsBack(format: String) async throws {
        let skopeo = try Prerequisite.skopeo.require()
        let dir = try TemporaryDirectory()
        try await Self.makeImage(dir)
        let archive = dir.url.appending(path: "app.tar").path
        let save = try ImgBinary.run(["-s", dir.url.path, "save", "--format", format, "-o", archive, "example/app:1.0"])
        #expect(save.status == 0, "\(save.stderr)")

        let transport = format == "docker" ? "docker-archive" : "oci-archive"
        let inspect = try Self.shell("\(skopeo) inspect \(transport):\(archive) > \(dir.url.path)/inspect.json")
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.url.appending(path: "inspect.json"))) as? [String: Any]
        #expect((json?["Layers"] as? [Any])?.count == 2)
        if format == "oci" {
            let umoci = try Prerequisite.umoci.require()
            // umoci reads OCI layouts as directories: unpack the archive, then let umoci build a bundle.
            let layout = dir.url.appending(path: "layout").path, bundle = dir.url.appending(path: "bundle").path
            let r = try Self.shell("mkdir '\(layout)' && tar -xf '\(archive)' -C '\(layout)' && \(umoci) unpack --image '\(layout):1.0' '\(bundle)'")
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try String(contentsOfFile: bundle + "/rootfs/srv/data", encoding: .utf8) == "second layer\n")
        }

        // Streamed to stdout, the same archive loads into an empty state directory.
        let fresh = try TemporaryDirectory()
        let streamed = dir.url.appending(path: "streamed.tar").path
        let toStdout = try Self.shell("'\(ImgBinary.url.path)' -s '\(dir.url.path)' save --format \(format) example/app:1.0 > '\(streamed)'")
        #expect(toStdout.status == 0, "\(toStdout.stderr)")
        let load = try Self.shell("'\(ImgBinary.url.path)' -s '\(fresh.url.path)' load < '\(streamed)' > '\(fresh.url.path)/out.txt'")
        #expect(load.status == 0, "\(load.stderr)")
        #expect(try String(contentsOf: fresh.url.appending(path: "out.txt"), encoding: .utf8) == "Loaded image: example/app:1.0\n")
        let rootfs = fresh.url.appending(path: "rootfs").path
        let unpack = try ImgBinary.run(["-s", fresh.url.path, "unpack", "-o", rootfs, "example/app:1.0"])
        #expect(unpack.status == 0, "\(unpack.stderr)")
        #expect(try String(contentsOfFile: rootfs + "/srv/data", encoding: .utf8) == "second layer\n")
        #expect(try String(contentsOfFile: rootfs + "/etc/motd", encoding: .utf8) == "hello\n")
    }

    /// Archives made by the test with Python's tarfile: entries escaping the root, members that point
    /// outside, garbage. Each is refused with one line, nothing is written outside, nothing is recorded.
    @Test(arguments: [
        ("escape", "invalid archive"),
        ("absolute", "names no image"),  // contained: extracted inside the work directory, then nothing to load
        ("config-outside", "points outside the archive"),
        ("garbage", "invalid archive"),
        ("empty-manifest", "names no image"),
    ])
    func hostileArchivesAreRefused(kind: String, message: String) throws {
        let dir = try TemporaryDirectory()
        let archive = dir.url.appending(path: "bad.tar").path
        let victim = dir.url.appending(path: "evil").path
        let script = """
            import io, sys, tarfile
            kind, path = sys.argv[1], sys.argv[2]
            if kind == "garbage":
                open(path, "wb").write(b"this is not a tar archive at all" * 40); sys.exit(0)
            t = tarfile.open(path, "w")
            def add(name, data):
                info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
            if kind == "escape": add("../evil", b"x"); add("manifest.json", b"[]")
            if kind == "absolute": add("\(victim)", b"x"); add("manifest.json", b"[]")
            if kind == "config-outside": add("manifest.json", b'[{"Config":"../../etc/passwd","RepoTags":["x:1"],"Layers":[]}]')
            if kind == "empty-manifest": add("manifest.json", b"[]")
            t.close()
            """
        let make = try Self.shell("python3 -c '\(script.replacingOccurrences(of: "'", with: "'\\''"))' \(kind) '\(archive)'")
        #expect(make.status == 0, "\(make.stderr)")
        let state = dir.url.appending(path: "state").path
        let r = try ImgBinary.run(["-s", state, "load", "-i", archive])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("error: ") && r.stderr.contains(message), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: victim))
        #expect(try ImgBinary.run(["-s", state, "ls"]).stdout.split(separator: "\n").count == 1)
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: state + "/tmp")) ?? []
        #expect(leftovers.isEmpty, "work directories are removed: \(leftovers)")
    }
}
