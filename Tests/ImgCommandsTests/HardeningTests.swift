import Foundation
import Glibc
import ImgContent
import ImgOCI
import Testing
import ImgTestSupport

/// What a hostile user tried: outputs onto devices and FIFOs, archives whose members are symlinks to host
/// files, rootfs directories open to every user, layer stacks that read differently per snapshotter, holes.
@Suite struct HardeningTests {
    /// Stores an image whose layers are the given uncompressed tar files, as they are.
    static func storeRawLayers(_ state: StateDirectory, name: String, tars: [String]) async throws {
        var layers: [Descriptor] = []
        var diffIDs: [Digest] = []
        for tar in tars {
            let bytes = Array(try Data(contentsOf: URL(filePath: tar)))
            let digest = Digest.sha256(of: bytes)
            layers.append(try await state.content.ingest(fileAt: tar, expected: Descriptor(mediaType: .ociLayer, digest: digest, size: Int64(bytes.count))))
            diffIDs.append(digest)
        }
        let config = ImageConfig(platform: try Platform(parsing: "linux/amd64"), rootfs: RootFS(diffIDs: diffIDs))
        let configDesc = try await state.content.ingest(Array(try JSONEncoder().encode(config)), mediaType: .ociConfig)
        let manifest = try await state.content.ingest(
            Array(try JSONEncoder().encode(Manifest(config: configDesc, layers: layers))), mediaType: .ociManifest)
        _ = try await state.images.put(try Reference(parsing: name), descriptor: manifest)
    }

    static func python(_ script: String, _ arguments: [String]) throws {
        let quoted = arguments.map { "'\($0)'" }.joined(separator: " ")
        let r = try SaveLoadTests.shell("python3 -c '\(script.replacingOccurrences(of: "'", with: "'\\''"))' \(quoted)")
        #expect(r.status == 0, "\(r.stderr)")
    }

    static func kind(_ path: String) -> mode_t {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode & S_IFMT : 0
    }

    // MARK: outputs (item 0)

    /// `-o` onto a character device (a `mknod c 1 3` copy of /dev/null) or a FIFO writes into it, as
    /// `docker save -o` does; renaming over it would make /dev/null a regular file when run as root.
    @Test(.needs(.root, .busybox, .runc))
    func outputsOntoDevicesAndFIFOsAreWrittenIntoNotReplaced() async throws {
        try Prerequisite.root.require()
        let fixture = try BuildFixture()
        try fixture.write("Dockerfile", "FROM scratch\nCOPY busybox /bin/busybox\n")
        #expect(try fixture.build(["-t", "out:1"]).status == 0)
        let null = fixture.dir.url.appending(path: "null").path
        let fifo = fixture.dir.url.appending(path: "fifo").path
        let canMknod = mknod(null, S_IFCHR | 0o666, dev_t(1 << 8 | 3)) == 0
        if !canMknod { Issue.record("mknod of a /dev/null copy failed as root") }
        #expect(mkfifo(fifo, 0o644) == 0)
        let commands: [[String]] = [
            ["save", "-o", "DEST", "out:1"], ["save", "--format", "oci", "-o", "DEST", "out:1"],
            ["build", "-o", "type=oci,dest=DEST", fixture.context.path], ["build", "-o", "type=docker,dest=DEST", fixture.context.path],
            ["build", "-o", "type=tar,dest=DEST", fixture.context.path],
        ]
        for command in commands {
            if canMknod {
                let r = try ImgBinary.run(["-s", fixture.state] + command.map { $0.replacingOccurrences(of: "DEST", with: null) })
                #expect(r.status == 0, "\(command): \(r.stderr)")
                #expect(Self.kind(null) == S_IFCHR, "\(command) replaced the device node")
            }
            // A reader on the FIFO gets the whole archive; the FIFO stays a FIFO.
            let received = fixture.dir.url.appending(path: "received.tar").path
            let arguments = command.map { "'\($0.replacingOccurrences(of: "DEST", with: fifo))'" }.joined(separator: " ")
            let reader = try SaveLoadTests.shell("""
                timeout 60 cat '\(fifo)' > '\(received)' 2>/dev/null & reader=$!
                '\(ImgBinary.url.path)' -s '\(fixture.state)' \(arguments) >/dev/null || { kill $reader; exit 1; }
                wait $reader && tar -tf '\(received)' | wc -l
                """)
            #expect(reader.status == 0, "\(command): \(reader.stderr)")
            #expect((Int(reader.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 0, "\(command): \(reader.stdout)")
            #expect(Self.kind(fifo) == S_IFIFO, "\(command) replaced the FIFO")
        }
        // A regular file is still replaced whole (written beside, renamed), and no partial file stays.
        let file = fixture.dir.url.appending(path: "out.tar").path
        try Data("old".utf8).write(to: URL(filePath: file))
        #expect(try ImgBinary.run(["-s", fixture.state, "save", "-o", file, "out:1"]).status == 0)
        #expect(try SaveLoadTests.shell("tar -tf '\(file)' manifest.json").status == 0)
        let partials = try FileManager.default.contentsOfDirectory(atPath: fixture.dir.url.path).filter { $0.contains(".partial-") }
        #expect(partials.isEmpty, "\(partials)")
    }

    // MARK: archives (item 1)

    /// Archives whose members are symlinks to a host file: a blob, `index.json`, a docker layer, a directory
    /// on the way. Each is one line naming the member; nothing of the host file is read or imported.
    @Test(arguments: ["oci-blob", "oci-index", "docker-layer", "docker-directory"])
    func archiveMembersThatAreSymlinksAreRefused(kind: String) throws {
        let dir = try TemporaryDirectory()
        // The "host file": a secret whose digest the archive names, so a followed link would import it.
        let secret = dir.url.appending(path: "secret").path
        try Data("root:$6$hash:19000:0:99999:7:::\n".utf8).write(to: URL(filePath: secret))
        let archive = dir.url.appending(path: "bad.tar").path
        let script = """
            import hashlib, io, json, sys, tarfile
            kind, path, secret = sys.argv[1:4]
            data = open(secret, "rb").read(); hexd = hashlib.sha256(data).hexdigest()
            t = tarfile.open(path, "w")
            def add(name, body):
                info = tarfile.TarInfo(name); info.size = len(body); t.addfile(info, io.BytesIO(body))
            def link(name, target, kind=tarfile.SYMTYPE):
                info = tarfile.TarInfo(name); info.type = kind; info.linkname = target; t.addfile(info)
            config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hexd]}}).encode()
            chex = hashlib.sha256(config).hexdigest()
            if kind.startswith("oci"):
                manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + chex, "size": len(config)},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + hexd, "size": len(data)}]}).encode()
                mhex = hashlib.sha256(manifest).hexdigest()
                index = json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": "sha256:" + mhex, "size": len(manifest), "annotations": {"io.containerd.image.name": "docker.io/library/x:1"}}]}).encode()
                add("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
                if kind == "oci-index": link("index.json", secret)
                else: add("index.json", index)
                add("blobs/sha256/" + chex, config); add("blobs/sha256/" + mhex, manifest)
                link("blobs/sha256/" + hexd, secret)
            else:
                add("manifest.json", json.dumps([{"Config": "config.json", "RepoTags": ["x:1"], "Layers": ["layers/layer.tar"]}]).encode())
                add("config.json", config)
                if kind == "docker-layer": link("layers/layer.tar", secret)
                else: link("layers", secret.rsplit("/", 1)[0]); 
            t.close()
            """
        if kind == "docker-directory" {
            // The directory link leads to the secret's directory, where a layer.tar is the secret.
            try FileManager.default.copyItem(atPath: secret, toPath: dir.url.appending(path: "layer.tar").path)
        }
        try Self.python(script, [kind, archive, secret])
        let state = dir.url.appending(path: "state").path
        let r = try ImgBinary.run(["-s", state, "load", "-i", archive])
        #expect(r.status == 1, "\(r.stdout)")
        let member = ["oci-blob": "blobs/sha256/", "oci-index": "index.json", "docker-layer": "layers/layer.tar", "docker-directory": "layers"][kind]!
        #expect(r.stderr.hasPrefix("error: ") && r.stderr.contains("is a symlink, not a regular file") && r.stderr.contains(member), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(!r.stderr.contains("bytes"), "the host file's size must not show: \(r.stderr)")
        // Nothing was imported: no blob of the secret's digest in the store, no image.
        let secretDigest = Digest.sha256(of: Array(try Data(contentsOf: URL(filePath: secret))))
        #expect(!FileManager.default.fileExists(atPath: state + "/content/blobs/sha256/" + secretDigest.hex))
        #expect(try ImgBinary.run(["-s", state, "ls"]).stdout.split(separator: "\n").count == 1)
    }

    // MARK: rootfs directories (item 2)

    /// As root, the directory img creates for a rootfs is 0700: the image's device nodes and setuid files
    /// inside are then root's alone. An existing directory keeps its mode, and `-d` says so.
    @Test(.needs(.busybox, .runc))
    func rootfsDirectoriesImgCreatesAreForRootAlone() async throws {
        let fixture = try BuildFixture()
        try fixture.write("Dockerfile", "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox mknod -m 666 /kmsg c 1 11 && /bin/busybox chmod 4755 /bin/busybox\"]\n")
        #expect(try fixture.build(["-t", "dev:1"]).status == 0)
        let root = geteuid() == 0
        let unpacked = fixture.dir.url.appending(path: "new/rootfs").path
        let unpack = try ImgBinary.run(["-s", fixture.state, "unpack", "-o", unpacked, "dev:1"])
        #expect(unpack.status == 0, "\(unpack.stderr)")
        let local = fixture.dir.url.appending(path: "local").path
        let build = try fixture.build(["-o", "type=local,dest=\(local)"])
        #expect(build.status == 0, "\(build.stderr)")
        for directory in [unpacked, local] {
            var st = stat()
            #expect(stat(directory, &st) == 0)
            #expect(Self.kind(directory + "/kmsg") == S_IFCHR)
            if root { #expect(st.st_mode & 0o7777 == 0o700, "\(directory): \(String(st.st_mode & 0o7777, radix: 8))") }
        }
        // Into an existing directory: its mode stays, and -d says what was done.
        let existing = fixture.dir.url.appending(path: "existing").path
        try FileManager.default.createDirectory(atPath: existing, withIntermediateDirectories: false)
        chmod(existing, 0o750)
        let into = try ImgBinary.run(["-d", "-s", fixture.state, "build", "--progress", "plain", "-o", "type=local,dest=\(existing)", fixture.context.path])
        #expect(into.status == 0, "\(into.stderr)")
        #expect(into.stderr.contains("writing the filesystem into the existing directory \(existing)"), "\(into.stderr)")
        let emptyExisting = fixture.dir.url.appending(path: "empty").path
        try FileManager.default.createDirectory(atPath: emptyExisting, withIntermediateDirectories: false)
        let unpackInto = try ImgBinary.run(["-d", "-s", fixture.state, "unpack", "-o", emptyExisting, "dev:1"])
        #expect(unpackInto.status == 0 && unpackInto.stderr.contains("existing directory \(emptyExisting)"), "\(unpackInto.stderr)")
    }

    // MARK: holes (item 14)

    /// A sparse file in a layer (a PAX sparse tar entry) stays sparse through `img unpack` on every backend
    /// (64 MiB: through fuse-overlayfs, which reports no holes, the zeros are read to find them).
    @Test(arguments: ["native", "overlayfs", "fuse-overlayfs"])
    func unpackKeepsHoles(backend: String) async throws {
        let dir = try TemporaryDirectory()
        let statePath = dir.url.appending(path: "state").path
        let state = try StateDirectory(root: statePath)
        let tree = dir.url.appending(path: "tree").path
        let tar = dir.url.appending(path: "layer.tar").path
        let make = try SaveLoadTests.shell("mkdir -p '\(tree)' && printf data > '\(tree)/head' && truncate -s 64M '\(tree)/sparse' && printf end | dd of='\(tree)/sparse' bs=1 seek=67108861 conv=notrunc 2>/dev/null && tar --sparse --format=posix -C '\(tree)' -cf '\(tar)' sparse head")
        #expect(make.status == 0, "\(make.stderr)")
        try await Self.storeRawLayers(state, name: "sparse:1", tars: [tar])
        let out = dir.url.appending(path: "out").path
        let r = try ImgBinary.run(["-b", backend, "-s", statePath, "unpack", "-o", out, "sparse:1"])
        #expect(r.status == 0, "\(r.stderr)")
        var st = stat()
        #expect(stat(out + "/sparse", &st) == 0)
        #expect(st.st_size == 64 << 20)
        #expect(Int64(st.st_blocks) * 512 < 1 << 20, "\(st.st_blocks) blocks: the holes were filled")
        let tail = try SaveLoadTests.shell("tail -c 3 '\(out)/sparse'")
        #expect(tail.stdout == "end")
    }

    // MARK: one tree on every snapshotter (item 4)

    /// Every entry of a tree as one line: type, mode, owner, size, content digest or link target.
    static func listing(_ root: String) throws -> [String] {
        var lines: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let relative = enumerator?.nextObject() as? String {
            let path = root + "/" + relative
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }
            var line = "\(relative) \(String(st.st_mode, radix: 8)) \(st.st_uid):\(st.st_gid)"
            switch st.st_mode & S_IFMT {
            case S_IFREG: line += " \(st.st_size) \(Digest.sha256(of: Array(try Data(contentsOf: URL(filePath: path)))))"
            case S_IFLNK: line += " -> \(try FileManager.default.destinationOfSymbolicLink(atPath: path))"
            default: break
            }
            lines.append(line)
        }
        return lines.sorted()
    }

    /// Hostile but valid layer stacks: an opaque root, an opaque directory deep down, a whiteout of a
    /// directory, a file replacing a directory and a directory replacing it back. native, kernel overlayfs
    /// and fuse-overlayfs give the same tree, entry by entry, and the tree the OCI rules give.
    @Test func everySnapshotterGivesTheSameTree() async throws {
        let dir = try TemporaryDirectory()
        let script = """
            import io, sys, tarfile
            out = sys.argv[1]
            def layer(name, entries):
                t = tarfile.open(out + "/" + name, "w")
                for path, kind, body in entries:
                    info = tarfile.TarInfo(path); info.mtime = 1
                    if kind == "dir": info.type = tarfile.DIRTYPE; info.mode = 0o755; t.addfile(info)
                    elif kind == "link": info.type = tarfile.SYMTYPE; info.linkname = body; t.addfile(info)
                    else: info.size = len(body); info.mode = 0o644; t.addfile(info, io.BytesIO(body))
                t.close()
            layer("1.tar", [("a", "dir", None), ("a/file1", "file", b"1"), ("a/sub", "dir", None), ("a/sub/deep", "file", b"deep"),
                            ("b", "dir", None), ("b/x", "file", b"x"), ("c", "dir", None), ("c/inside", "file", b"in"), ("top1", "file", b"t")])
            layer("2.tar", [(".wh..wh..opq", "file", b""), ("a", "dir", None), ("a/new", "file", b"new"), ("a/deep", "dir", None),
                            ("a/deep/er", "dir", None), ("a/deep/er/f", "file", b"f"), ("b", "dir", None), ("b/y", "file", b"y"),
                            ("c", "dir", None), ("c/inner", "file", b"inner"), ("e", "file", b"e"), ("link", "link", "a/new")])
            layer("3.tar", [("a", "dir", None), ("a/deep", "dir", None), ("a/deep/.wh..wh..opq", "file", b""), ("a/deep/only", "file", b"o"),
                            (".wh.b", "file", b""), (".wh.c", "file", b""), ("c", "file", b"now a file"), (".wh.e", "file", b""),
                            ("e", "dir", None), ("e/z", "file", b"z")])
            layer("4.tar", [(".wh.c", "file", b""), ("c", "dir", None), ("c/back", "file", b"back"), (".wh.link", "file", b"")])
            """
        try Self.python(script, [dir.url.path])
        var trees: [String: [String]] = [:]
        for backend in ["native", "overlayfs", "fuse-overlayfs"] {
            let statePath = dir.url.appending(path: "state-\(backend)").path
            let state = try StateDirectory(root: statePath)
            try await Self.storeRawLayers(state, name: "stack:1", tars: (1...4).map { dir.url.appending(path: "\($0).tar").path })
            let out = dir.url.appending(path: "out-\(backend)").path
            let r = try ImgBinary.run(["-b", backend, "-s", statePath, "unpack", "-o", out, "stack:1"])
            #expect(r.status == 0, "\(backend): \(r.stderr)")
            trees[backend] = try Self.listing(out)
        }
        let names = trees["native"]!.map { String($0.split(separator: " ")[0]) }
        #expect(names == ["a", "a/deep", "a/deep/only", "a/new", "c", "c/back", "e", "e/z"], "\(trees["native"]!)")
        #expect(trees["overlayfs"] == trees["native"], "overlayfs: \(trees["overlayfs"]!)")
        #expect(trees["fuse-overlayfs"] == trees["native"], "fuse-overlayfs: \(trees["fuse-overlayfs"]!)")
    }
}

/// A full disk is said as such, naming what was being written (item 12). The state lives on a 6 MiB tmpfs
/// mounted in a mount namespace of the test's own, so nothing is mounted on the host.
@Suite struct FullDiskTests {
    @Test(.needs(.root, .busybox, .runc))
    func loadAndBuildIntoAFullDiskSaySo() throws {
        try Prerequisite.root.require()
        let fixture = try BuildFixture()
        let big = fixture.context.appending(path: "big").path
        #expect(try SaveLoadTests.shell("head -c 8000000 /dev/urandom > '\(big)'").status == 0)
        try fixture.write("Dockerfile", "FROM scratch\nCOPY big /big\n")
        #expect(try fixture.build(["-t", "big:1"]).status == 0)
        let archive = fixture.dir.url.appending(path: "big.tar").path
        #expect(try ImgBinary.run(["-s", fixture.state, "save", "-o", archive, "big:1"]).status == 0)
        let small = fixture.dir.url.appending(path: "small").path
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: false)
        let img = ImgBinary.url.path
        let r = try SaveLoadTests.shell("""
            unshare -m --propagation private sh -c '
              mount -t tmpfs -o size=6m tmpfs \(small) || exit 99
              \(img) -s \(small)/load load -i \(archive) 2>&1; echo "load=$?"
              \(img) -s \(small)/build build --progress plain -f \(fixture.context.path)/Dockerfile \(fixture.context.path) 2>&1 | tail -1; echo "build=$?"
            '
            """)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("load=1"), "\(r.stdout)")
        #expect(lines.contains { $0.hasPrefix("error: no space left on device writing ") && $0.contains("big.tar") }, "\(r.stdout)")
        #expect(lines.contains("error: \(fixture.context.path)/Dockerfile:2: COPY failed: no space left on device writing /big"), "\(r.stdout)")
        #expect(!r.stdout.contains("invalid archive"), "\(r.stdout)")
    }
}
