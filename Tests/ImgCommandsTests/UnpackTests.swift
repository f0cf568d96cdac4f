import Foundation
import ImgArchive
import ImgContent
import ImgOCI
import Testing
import ImgTestSupport

/// `img unpack` through the real binary, on images whose layers the test builds with ImgArchive.
@Suite struct UnpackTests {
    /// Stores an image whose layers are the given directory trees (made by `build` closures), in order.
    static func storeImage(_ state: StateDirectory, name: String, layers: [(URL) throws -> Void]) async throws {
        let work = try TemporaryDirectory()
        var descriptors: [Descriptor] = []
        var diffIDs: [Digest] = []
        for (i, build) in layers.enumerated() {
            let tree = work.url.appending(path: "tree\(i)")
            try FileManager.default.createDirectory(at: tree, withIntermediateDirectories: true)
            try build(tree)
            let blob = work.url.appending(path: "layer\(i).tar.gz").path
            let digests = try LayerExport.directory(tree.path, toFile: blob)
            descriptors.append(try await state.content.ingest(fileAt: blob, expected: digests.descriptor()))
            diffIDs.append(digests.diffID)
        }
        let config = ImageConfig(platform: try Platform(parsing: "linux/amd64"), rootfs: RootFS(diffIDs: diffIDs))
        let configDesc = try await state.content.ingest(Array(try JSONEncoder().encode(config)), mediaType: .ociConfig)
        let manifest = Manifest(config: configDesc, layers: descriptors)
        let desc = try await state.content.ingest(Array(try JSONEncoder().encode(manifest)), mediaType: .ociManifest)
        _ = try await state.images.put(try Reference(parsing: name), descriptor: desc)
    }

    static func write(_ url: URL, _ text: String) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    @Test func layersApplyInOrderWithWhiteoutsOwnersAndLinks() async throws {
        let dir = try TemporaryDirectory()
        let state = try StateDirectory(root: dir.url.path)
        try await Self.storeImage(state, name: "app", layers: [
            { root in
                try Self.write(root.appending(path: "etc/hello"), "one\n")
                try Self.write(root.appending(path: "gone/file"), "x")
                try Self.write(root.appending(path: "home/app/own"), "mine")
                chown(root.appending(path: "home/app/own").path, 1000, 1000)
                chmod(root.appending(path: "etc/hello").path, 0o4755)
                try FileManager.default.createSymbolicLink(atPath: root.appending(path: "link").path, withDestinationPath: "etc/hello")
            },
            { root in
                try Self.write(root.appending(path: "etc/hello"), "two\n")
                // A whiteout deleting the lower layer's directory.
                FileManager.default.createFile(atPath: root.appending(path: ".wh.gone").path, contents: Data())
            },
        ])
        let out = dir.url.appending(path: "out")
        let r = try ImgBinary.run(["--state", dir.url.path, "unpack", "-o", out.path, "app"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "Unpacked app:latest to \(out.path)\n")
        #expect(try String(contentsOf: out.appending(path: "etc/hello"), encoding: .utf8) == "two\n")
        #expect(!FileManager.default.fileExists(atPath: out.appending(path: "gone").path))
        #expect(!FileManager.default.fileExists(atPath: out.appending(path: ".wh.gone").path))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: out.appending(path: "link").path) == "etc/hello")
        var st = stat()
        #expect(lstat(out.appending(path: "home/app/own").path, &st) == 0)
        #expect(st.st_uid == 1000 && st.st_gid == 1000)
    }

    /// `-b` picks the snapshotter the layers are prepared in, `-d` says which; the result is the same tree,
    /// and (as root, in img's private mount namespace) no mount is left on the host.
    @Test(arguments: [("auto", "snapshotter: overlayfs (auto)"), ("overlayfs", "snapshotter: overlayfs (forced)"),
                      ("fuse-overlayfs", "snapshotter: fuse-overlayfs (forced)"), ("native", "snapshotter: native (forced)")])
    func backendIsChosenAndReported(_ backend: String, _ line: String) async throws {
        let dir = try TemporaryDirectory()
        let state = try StateDirectory(root: dir.url.path)
        try await Self.storeImage(state, name: "app", layers: [
            { root in try Self.write(root.appending(path: "etc/hello"), "one\n"); try Self.write(root.appending(path: "gone"), "x") },
            { root in
                try Self.write(root.appending(path: "etc/hello"), "two\n")
                FileManager.default.createFile(atPath: root.appending(path: ".wh.gone").path, contents: Data())
            },
        ])
        let out = dir.url.appending(path: "out")
        let r = try ImgBinary.run(["-d", "-b", backend, "-s", dir.url.path, "unpack", "-o", out.path, "app"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains(line), "\(r.stderr)")
        #expect(try String(contentsOf: out.appending(path: "etc/hello"), encoding: .utf8) == "two\n")
        #expect(!FileManager.default.fileExists(atPath: out.appending(path: "gone").path))
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!mounts.contains(dir.url.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.appending(path: "snapshots/tmp").path).isEmpty)
    }

    @Test func refusesANonEmptyTargetAndCleansUpAfterABadLayer() async throws {
        let dir = try TemporaryDirectory()
        let state = try StateDirectory(root: dir.url.path)
        try await Self.storeImage(state, name: "ok", layers: [{ root in try Self.write(root.appending(path: "a"), "a") }])
        let busy = dir.url.appending(path: "busy")
        try Self.write(busy.appending(path: "keep"), "mine")
        let refused = try ImgBinary.run(["-s", dir.url.path, "unpack", "-o", busy.path, "ok"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("not an empty directory"))
        #expect(try String(contentsOf: busy.appending(path: "keep"), encoding: .utf8) == "mine")

        // Corrupt the stored layer: the unpack fails with one line and leaves no output directory.
        let image = try await state.images.get(try Reference(parsing: "ok"))
        let manifest = try JSONDecoder().decode(Manifest.self, from: try state.content.data(for: image.descriptor.digest))
        let layerPath = state.content.path(for: manifest.layers[0].digest)
        chmod(layerPath, 0o644)
        try Data("not a tar at all".utf8).write(to: URL(filePath: layerPath))
        let out = dir.url.appending(path: "out")
        let bad = try ImgBinary.run(["-s", dir.url.path, "unpack", "-o", out.path, "ok"])
        #expect(bad.status == 1)
        #expect(bad.stderr.hasPrefix("error: ") && bad.stderr.split(separator: "\n").count == 1, "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }
}

/// Hostile layers through `img unpack`: rejected or contained, never a write outside the target.
@Suite struct HostileUnpackTests {
    @Test(arguments: ["../escape", "a/../../escape", "link-out/escape"])
    func layersCannotWriteOutside(entry: String) async throws {
        let dir = try TemporaryDirectory()
        let state = try StateDirectory(root: dir.url.appending(path: "state").path)
        let tarPath = dir.url.appending(path: "layer.tar").path
        let script = """
            import io, sys, tarfile
            t = tarfile.open(sys.argv[1], "w")
            link = tarfile.TarInfo("link-out"); link.type = tarfile.SYMTYPE; link.linkname = sys.argv[3]; t.addfile(link)
            info = tarfile.TarInfo(sys.argv[2]); data = b"pwned"; info.size = len(data); t.addfile(info, io.BytesIO(data))
            t.close()
            """
        let outside = dir.url.appending(path: "outside").path
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        let make = try SaveLoadTests.shell("python3 -c '\(script)' '\(tarPath)' '\(entry)' '\(outside)'")
        #expect(make.status == 0, "\(make.stderr)")
        let diffID = Digest.sha256(of: Array(try Data(contentsOf: URL(filePath: tarPath))))
        let layer = try await state.content.ingest(fileAt: tarPath, expected: Descriptor(
            mediaType: .ociLayer, digest: diffID, size: Int64(try Data(contentsOf: URL(filePath: tarPath)).count)))
        let config = ImageConfig(platform: try Platform(parsing: "linux/amd64"), rootfs: RootFS(diffIDs: [diffID]))
        let configDesc = try await state.content.ingest(Array(try JSONEncoder().encode(config)), mediaType: .ociConfig)
        let manifest = try await state.content.ingest(
            Array(try JSONEncoder().encode(Manifest(config: configDesc, layers: [layer]))), mediaType: .ociManifest)
        _ = try await state.images.put(try Reference(parsing: "evil"), descriptor: manifest)

        let before = try FileManager.default.contentsOfDirectory(atPath: dir.url.path).sorted()
        let target = dir.url.appending(path: "target").path
        let r = try ImgBinary.run(["-s", dir.url.appending(path: "state").path, "unpack", "-o", target, "evil"])
        #expect(r.status == 0 || r.stderr.hasPrefix("error: "), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.url.appending(path: "escape").path))
        #expect(!FileManager.default.fileExists(atPath: outside + "/escape"))
        let after = try FileManager.default.contentsOfDirectory(atPath: dir.url.path).sorted().filter { $0 != "target" }
        #expect(after == before)
    }
}
