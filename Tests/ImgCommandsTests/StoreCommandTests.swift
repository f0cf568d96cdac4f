import Foundation
import ImgContent
import ImgOCI
import Testing
import ImgTestSupport

/// `ls`, `tag`, `rm`, `inspect`, `du`, `prune` through the real binary, on a state directory the test fills
/// through the content and image stores.
@Suite struct StoreCommandTests {
    /// Stores a one-layer image under `name` and returns its manifest descriptor.
    @discardableResult
    static func storeImage(_ state: StateDirectory, name: String, layer: [UInt8], cmd: String) async throws -> Descriptor {
        let layerDesc = try await state.content.ingest(layer, mediaType: .ociLayerGzip)
        var cc = ContainerConfig()
        cc.cmd = [cmd]
        let config = ImageConfig(platform: try Platform(parsing: "linux/amd64"), config: cc,
                                 rootfs: RootFS(diffIDs: [layerDesc.digest]))
        let configDesc = try await state.content.ingest(Array(try JSONEncoder().encode(config)), mediaType: .ociConfig)
        let manifest = Manifest(config: configDesc, layers: [layerDesc])
        let manifestDesc = try await state.content.ingest(Array(try JSONEncoder().encode(manifest)), mediaType: .ociManifest)
        _ = try await state.images.put(try Reference(parsing: name), descriptor: manifestDesc)
        return manifestDesc
    }

    func img(_ dir: TemporaryDirectory, _ args: [String]) throws -> ImgBinary.Result {
        try ImgBinary.run(["-s", dir.url.path] + args)
    }

    @Test func listTagRemove() async throws {
        let dir = try TemporaryDirectory()
        let state = try StateDirectory(root: dir.url.path)
        let a = try await Self.storeImage(state, name: "busybox", layer: Array(repeating: 7, count: 2048), cmd: "sh")
        try await Self.storeImage(state, name: "127.0.0.1:5000/team/app:v1", layer: [1, 2, 3], cmd: "app")

        let ls = try img(dir, ["ls"])
        #expect(ls.status == 0, "\(ls.stderr)")
        let lines = ls.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("NAME") && lines[0].contains("SIZE") && lines[0].contains("CREATED AT")
            && lines[0].contains("UPDATED AT") && lines[0].hasSuffix("DIGEST"))
        #expect(lines[1].hasPrefix("127.0.0.1:5000/team/app:v1 "))
        #expect(lines[2].hasPrefix("busybox:latest "))
        #expect(lines[2].hasSuffix(a.digest.description))
        #expect(lines[2].contains("ago"))

        #expect(try img(dir, ["tag", "busybox", "busybox:copy"]).status == 0)
        let filtered = try img(dir, ["ls", "-f", "reference=busybox:*"])
        #expect(filtered.stdout.split(separator: "\n").count == 3)
        #expect(filtered.stdout.contains("busybox:copy") && !filtered.stdout.contains("team/app"))
        let byDigest = try img(dir, ["ls", "--filter", "digest=\(a.digest)"])
        #expect(byDigest.stdout.split(separator: "\n").count == 3)

        let rm = try img(dir, ["rm", "busybox:copy", "nope:1"])
        #expect(rm.status == 1)
        #expect(rm.stdout == "Untagged: busybox:copy\n")
        #expect(rm.stderr.contains("No such image: nope:1"))
        #expect(try img(dir, ["ls"]).stdout.split(separator: "\n").count == 3)
    }

    @Test func badFiltersAreOneLineErrorsForLsAndDu() async throws {
        let dir = try TemporaryDirectory()
        let state = try StateDirectory(root: dir.url.path)
        try await Self.storeImage(state, name: "busybox", layer: [4, 2], cmd: "sh")
        // Names and digests (the "ago" columns move with the clock).
        func listed() throws -> [String] {
            try img(dir, ["ls"]).stdout.split(separator: "\n").map {
                let words = $0.split(separator: " ")
                return "\(words.first ?? "") \(words.last ?? "")"
            }
        }
        let before = try listed()
        #expect(before.count == 2)
        for command in ["ls", "du"] {
            let noEquals = try img(dir, [command, "-f", "bad"])
            #expect(noEquals.status == 1)
            #expect(noEquals.stderr == "error: invalid filter \"bad\": expected reference=PATTERN or digest=DIGEST\n")
            let unknownKey = try img(dir, [command, "--filter", "label=x"])
            #expect(unknownKey.status == 1)
            #expect(unknownKey.stderr == "error: invalid filter \"label=x\": unknown key \"label\" (use reference or digest)\n")
            #expect(unknownKey.stdout.isEmpty)
        }
        // Nothing in the state directory changed.
        #expect(try listed() == before)
    }

    @Test func inspectShowsManifestAndConfig() async throws {
        let dir = try TemporaryDirectory()
        let state = try StateDirectory(root: dir.url.path)
        let desc = try await Self.storeImage(state, name: "example/app:1", layer: [9, 9], cmd: "run-me")
        let r = try img(dir, ["inspect", "example/app:1"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(json?["name"] as? String == "docker.io/example/app:1")
        #expect((json?["descriptor"] as? [String: Any])?["digest"] as? String == desc.digest.description)
        let config = (json?["config"] as? [String: Any])?["config"] as? [String: Any]
        #expect(config?["Cmd"] as? [String] == ["run-me"])
        #expect(((json?["manifest"] as? [String: Any])?["layers"] as? [Any])?.count == 1)
    }

    @Test func duAndPruneReclaimUntaggedContent() async throws {
        let dir = try TemporaryDirectory()
        let state = try StateDirectory(root: dir.url.path)
        try await Self.storeImage(state, name: "keep", layer: Array(repeating: 1, count: 4096), cmd: "a")
        try await Self.storeImage(state, name: "drop", layer: Array(repeating: 2, count: 10_000), cmd: "b")
        let du = try img(dir, ["du"])
        #expect(du.status == 0, "\(du.stderr)")
        #expect(du.stdout.contains("keep:latest") && du.stdout.contains("drop:latest"))
        #expect(du.stdout.contains("Reclaimable:\t0B"))

        #expect(try img(dir, ["rm", "drop"]).status == 0)
        let dry = try img(dir, ["prune", "--dry-run"])
        #expect(dry.stdout.split(separator: "\n").filter { $0.hasPrefix("Would remove: sha256:") }.count == 3)
        let prune = try img(dir, ["prune"])
        #expect(prune.status == 0, "\(prune.stderr)")
        #expect(prune.stdout.split(separator: "\n").filter { $0.hasPrefix("Deleted: sha256:") }.count == 3)
        #expect(prune.stdout.contains("Total reclaimed space: "))
        #expect(!prune.stdout.contains("Total reclaimed space: 0B"))
        // What is left still inspects, and a second prune has nothing to do.
        #expect(try img(dir, ["inspect", "keep"]).status == 0)
        #expect(try img(dir, ["prune"]).stdout == "Total reclaimed space: 0B\n")
    }

    @Test(arguments: [
        (["inspect", "Bad/Name"], "must be lowercase"),
        (["inspect", "missing:tag"], "image not found"),
        (["tag", "missing", "other"], "image not found"),
        // The registry is contacted while the store opens; nothing listens there, and the missing image is
        // still what is reported.
        (["push", "127.0.0.1:1/missing/image:tag"], "image not found"),
        (["tag", "a", "b@sha256:" + String(repeating: "a", count: 64)], "cannot name a digest"),
        (["ls", "-f", "color=red"], "unknown key"),
    ])
    func badInputGetsOneClearLine(args: [String], message: String) throws {
        let dir = try TemporaryDirectory()
        let r = try img(dir, args)
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("error: ") && r.stderr.contains(message), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
    }
}
