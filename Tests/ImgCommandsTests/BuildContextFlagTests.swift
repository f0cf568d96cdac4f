import Foundation
import Glibc
import Testing
import ImgTestSupport

/// `img build --build-context NAME=VALUE` through the real binary: a directory, a stored image and an OCI
/// layout replace the stage or image of their name in FROM, COPY --from and RUN --mount=from; bad values
/// are one-line errors.
@Suite(.serialized, .needs(.busybox, .runc)) struct BuildContextFlagTests {
    static let base = BuildTests.base

    /// A directory beside the build context, with `files` (relative path: text).
    static func directory(_ f: BuildFixture, _ name: String, _ files: [String: String]) throws -> String {
        let root = f.dir.url.appending(path: name)
        for (path, text) in files {
            let file = root.appending(path: path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: file)
        }
        return root.path
    }

    static func text(_ rootfs: URL, _ path: String) -> String? {
        try? String(contentsOf: rootfs.appending(path: path), encoding: .utf8)
    }

    @Test func directoryContextInCopyMountAndFrom() throws {
        let f = try BuildFixture()
        let extra = try Self.directory(f, "extra", [
            "a.txt": "from extra\n", "sub/b.txt": "nested\n", "secret.txt": "hidden\n", ".dockerignore": "secret.txt\n",
        ])
        // `files` is a stage the context replaces: built, its COPY of a missing file would fail.
        try f.write("Dockerfile", """
            FROM scratch AS files
            COPY no-such-file /x

            """ + Self.base + """
            COPY --from=extra a.txt /copied-a.txt
            COPY --from=files . /files/
            RUN --mount=from=extra,target=/mnt cat /mnt/sub/b.txt > /mounted-b.txt && if test -e /mnt/secret.txt; then echo present; else echo absent; fi > /mounted-secret

            """)
        let built = try f.build(["-t", "dir-context", "--build-context", "extra=\(extra)", "--build-context", "files=\(extra)"])
        #expect(built.status == 0, "\(built.stderr)")
        let rootfs = try f.unpack("dir-context")
        #expect(Self.text(rootfs, "copied-a.txt") == "from extra\n")
        #expect(Self.text(rootfs, "files/sub/b.txt") == "nested\n", "the stage was replaced by the directory")
        #expect(Self.text(rootfs, "files/a.txt") == "from extra\n")
        #expect(!FileManager.default.fileExists(atPath: rootfs.appending(path: "files/secret.txt").path),
                "the directory's own .dockerignore applies")
        #expect(Self.text(rootfs, "mounted-b.txt") == "nested\n")
        #expect(Self.text(rootfs, "mounted-secret") == "absent\n", "the mount sees the filtered files")

        // The same files: every step cached; a changed file in the context: its copies run again.
        let again = try f.build(["-t", "dir-context", "--build-context", "extra=\(extra)", "--build-context", "files=\(extra)"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(!BuildFixture.steps(again.stderr).ran.contains { $0.contains("COPY") || $0.contains("RUN") },
                "\(again.stderr)")
        try Data("changed\n".utf8).write(to: URL(filePath: extra + "/a.txt"))
        let changed = try f.build(["-t", "dir-context", "--build-context", "extra=\(extra)", "--build-context", "files=\(extra)"])
        #expect(changed.status == 0, "\(changed.stderr)")
        #expect(BuildFixture.steps(changed.stderr).ran.contains { $0.contains("COPY --from=extra a.txt") }, "\(changed.stderr)")
        #expect(Self.text(try f.unpack("dir-context"), "copied-a.txt") == "changed\n")
        // A change to an ignored file is no change.
        try Data("other secret\n".utf8).write(to: URL(filePath: extra + "/secret.txt"))
        let ignored = try f.build(["-t", "dir-context", "--build-context", "extra=\(extra)", "--build-context", "files=\(extra)"])
        #expect(ignored.status == 0, "\(ignored.stderr)")
        #expect(!BuildFixture.steps(ignored.stderr).ran.contains { $0.contains("COPY") || $0.contains("RUN") },
                "\(ignored.stderr)")

        // FROM a directory context: its files, scratch-like (a relative path works too).
        try f.write("Dockerfile", "FROM extra\n")
        let relative = "../extra"
        let fromDirectory = try ImgBinary.run(["-s", f.state, "build", "--progress", "plain", "-t", "from-dir",
                                               "--build-context", "extra=\(relative)", "."],
                                              cwd: f.context)
        #expect(fromDirectory.status == 0, "\(fromDirectory.stderr)")
        let fromRoot = try f.unpack("from-dir")
        #expect(Self.text(fromRoot, "sub/b.txt") == "nested\n" && Self.text(fromRoot, "a.txt") == "changed\n")
        #expect(!FileManager.default.fileExists(atPath: fromRoot.appending(path: "secret.txt").path))
    }

    @Test func imageContextsReplaceImagesAndStages() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.base + "RUN echo stored > /marker\n")
        #expect(try f.build(["-t", "marker-base"]).status == 0)

        // `alpine` is not stored and nothing is pulled: the context stands for it, by any spelling of it.
        // The stage `tools` is replaced too (built, its COPY of a missing file would fail).
        try f.write("Dockerfile", """
            FROM scratch AS tools
            COPY no-such-file /x
            FROM docker.io/library/alpine:latest
            COPY --from=alpine /marker /copied-marker
            COPY --from=tools /marker /tools-marker
            RUN cat /marker > /seen

            """)
        let built = try f.build(["-t", "image-context", "--build-context", "alpine=docker-image://marker-base",
                                 "--build-context", "tools=docker-image://marker-base:latest"])
        #expect(built.status == 0, "\(built.stderr)")
        let rootfs = try f.unpack("image-context")
        #expect(Self.text(rootfs, "seen") == "stored\n")
        #expect(Self.text(rootfs, "copied-marker") == "stored\n" && Self.text(rootfs, "tools-marker") == "stored\n")
        // Keyed by the image's digest: the same image is all cached.
        let again = try f.build(["-t", "image-context", "--build-context", "alpine=docker-image://marker-base",
                                 "--build-context", "tools=docker-image://marker-base:latest"])
        #expect(again.status == 0 && BuildFixture.steps(again.stderr).ran.allSatisfy { !$0.contains("RUN") }, "\(again.stderr)")

        // An OCI layout written by img (-o type=oci), unpacked to a directory: by tag, by default, by digest.
        let archive = f.dir.url.appending(path: "layout.tar").path
        let layout = f.dir.url.appending(path: "layout").path
        try f.write("Dockerfile", Self.base + "RUN echo from-layout > /marker\n")
        #expect(try f.build(["-o", "type=oci,dest=\(archive)", "-t", "laid:v2"]).status == 0)
        try FileManager.default.createDirectory(atPath: layout, withIntermediateDirectories: true)
        #expect(try SaveLoadTests.shell("tar -C '\(layout)' -xf '\(archive)'").status == 0)
        let index = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(filePath: layout + "/index.json"))) as? [String: Any])
        let digest = try #require(((index["manifests"] as? [[String: Any]])?.first)?["digest"] as? String)
        try f.write("Dockerfile", "FROM base\nRUN cat /marker > /seen\n")
        for value in ["oci-layout://\(layout):v2", "oci-layout://\(layout)", "oci-layout://\(layout)@\(digest)"] {
            let fromLayout = try f.build(["-t", "layout-context", "--build-context", "base=\(value)"])
            #expect(fromLayout.status == 0, "\(value): \(fromLayout.stderr)")
            #expect(Self.text(try f.unpack("layout-context"), "seen") == "from-layout\n", "\(value)")
        }
    }

    @Test func malformedValuesAreOneLineErrors() throws {
        let f = try BuildFixture()
        try f.write("Dockerfile", Self.base)
        let layout = try Self.directory(f, "layout", ["oci-layout": #"{"imageLayoutVersion":"1.0.0"}"#,
                                                      "index.json": #"{"schemaVersion":2,"manifests":[]}"#])
        let cases: [(String, String)] = [
            ("noequals", "expected NAME=VALUE"),
            ("=/tmp", "expected NAME=VALUE"),
            ("Upper=/tmp", "invalid name"),
            ("x=ftp://example.com/x", "unknown scheme ftp://"),
            ("x=\(f.dir.url.path)/missing", "is not a directory"),
            ("x=oci-layout://\(f.dir.url.path)/missing", "is not an OCI layout"),
            ("x=oci-layout://\(layout):nope", "no image tagged nope"),
            ("x=docker-image://Bad Ref", "invalid image reference"),
            ("x=target:base", "only for docker buildx bake"),
            ("x=https://github.com/a/b.git", "not supported"),
        ]
        for (value, message) in cases {
            let result = try f.build(["--build-context", value])
            let lines = result.stderr.split(separator: "\n")
            #expect(result.status != 0, "\(value)")
            #expect(lines.count == 1 && result.stderr.contains("--build-context") && result.stderr.contains(message),
                    "\(value): \(result.stderr)")
        }
        let help = try f.img(["build", "--help"])
        #expect(help.stdout.contains("--build-context") && help.stdout.contains("oci-layout://"), "\(help.stdout)")
    }
}
