import Foundation
import Glibc
import ImgOCI
import ImgTestSupport
import ImgWorker
import Testing

/// The worker alone, in process: ops from small Dockerfiles run against a real store and snapshotter, with
/// image resolution, URL fetching and progress faked.
/// Tests that check file owners need root (`.needs(.root)`): native snapshots keep file owners.
@Suite
struct WorkerOpTests {
    @Test(.needs(.root))
    func anImageSourceKeepsTheBaseConfigButNotItsTriggers() async throws {
        try Prerequisite.root.require()
        var config = ImageConfig(platform: .host)
        config.config = ContainerConfig()
        config.config?.env = ["A=1"]
        config.config?.onBuild = ["RUN true"]
        let harness = try WorkerHarness(images: FakeImages(["fake/base": config]))
        let (result, progress, _) = try await harness.build("FROM fake/base\nENV B=2\n")
        #expect(result.container.env == ["A=1", "B=2"])
        #expect(result.container.onBuild == nil)
        #expect(harness.images.requests == ["fake/base \(Platform.host)"])
        #expect(progress.events.first == .started("[1/2] FROM fake/base"))
        #expect(result.config.history?.last?.createdBy == "ENV B=2")
    }

    @Test(.needs(.root))
    func aBaseThatCannotBeResolvedNamesTheLine() async throws {
        try Prerequisite.root.require()
        let harness = try WorkerHarness()
        await #expect {
            _ = try await harness.build("# base\nFROM nowhere/image\n")
        } throws: { error in
            "\(error)" == "Dockerfile:2: FROM nowhere/image: nowhere/image: not found (fake)"
        }
    }

    @Test(.needs(.root))
    func aMovedBaseChangesTheKeyOfEveryStepAfterIt() async throws {
        try Prerequisite.root.require()
        let harness = try WorkerHarness(images: FakeImages(["base": ImageConfig(platform: .host)]))
        let (first, _, _) = try await harness.build("FROM base\nLABEL a=b\n")
        var moved = ImageConfig(platform: .host)
        moved.author = "someone"
        harness.images.replace("base", with: moved)
        let (second, progress, _) = try await harness.build("FROM base\nLABEL a=b\n")
        #expect(first.cacheKey != second.cacheKey)
        #expect(progress.cachedTitles.isEmpty)
    }

    @Test(.needs(.root))
    func aContextCopyIsKeyedByContentAndHitsWhenUnchanged() async throws {
        try Prerequisite.root.require()
        let harness = try WorkerHarness()
        try harness.write("app/a.txt", "one\n")
        let dockerfile = "FROM scratch\nCOPY app/a.txt /dir/\n"
        let (first, _, worker) = try await harness.build(dockerfile)
        #expect(first.layers.count == 1)
        #expect(first.config.history?.last?.createdBy == "COPY app/a.txt /dir/ # buildkit")
        let content = try await harness.inspect(first, with: worker) { root in
            try String(contentsOfFile: root + "/dir/a.txt", encoding: .utf8)
        }
        #expect(content == "one\n")

        // A touch changes nothing; the same content is a hit.
        try harness.write("app/a.txt", "one\n")
        let (again, progress, _) = try await harness.build(dockerfile)
        #expect(again.cacheKey == first.cacheKey)
        #expect(progress.cachedTitles == ["[2/2] COPY app/a.txt /dir/"])

        try harness.write("app/a.txt", "two\n")
        let (changed, missed, _) = try await harness.build(dockerfile)
        #expect(changed.cacheKey != first.cacheKey)
        #expect(missed.notes.contains("cache miss: the files it copies changed"))
    }

    @Test(.needs(.root))
    func inlineFilesAreExpandedWithTheArgsInScope() async throws {
        try Prerequisite.root.require()
        let harness = try WorkerHarness()
        let (result, _, worker) = try await harness.build("""
            FROM scratch
            ARG NAME=world
            COPY <<EOF /greeting
            hello $NAME
            EOF
            COPY <<'EOF' /literal
            hello $NAME
            EOF
            """)
        let (greeting, literal) = try await harness.inspect(result, with: worker) { root in
            (try String(contentsOfFile: root + "/greeting", encoding: .utf8),
             try String(contentsOfFile: root + "/literal", encoding: .utf8))
        }
        #expect(greeting == "hello world\n")
        #expect(literal == "hello $NAME\n")
    }

    @Test(.needs(.root))
    func urlsAreFetchedAndKeyedByWhatTheyHold() async throws {
        try Prerequisite.root.require()
        let url = "http://fake.test/files/f.txt"
        let harness = try WorkerHarness(fetcher: FakeFetcher([url: "one"]))
        let dockerfile = "FROM scratch\nADD \(url) /\n"
        let (first, _, worker) = try await harness.build(dockerfile)
        let (content, mode) = try await harness.inspect(first, with: worker) { root in
            let attributes = try FileManager.default.attributesOfItem(atPath: root + "/f.txt")
            return (try String(contentsOfFile: root + "/f.txt", encoding: .utf8),
                    (attributes[.posixPermissions] as? Int) ?? -1)
        }
        #expect(content == "one")
        #expect(mode == 0o600)

        let (same, hit, _) = try await harness.build(dockerfile)
        #expect(same.cacheKey == first.cacheKey)
        #expect(hit.cachedTitles == ["[2/2] ADD \(url) /"])
        harness.fetcher.set(url, "two")
        let (changed, _, _) = try await harness.build(dockerfile)
        #expect(changed.cacheKey != first.cacheKey)
        #expect(harness.fetcher.fetches == 3)

        await #expect {
            _ = try await harness.build("FROM scratch\nADD --checksum=sha256:\(String(repeating: "0", count: 64)) \(url) /\n")
        } throws: { error in
            "\(error)".hasPrefix("Dockerfile:2: ADD \(url): checksum mismatch: expected sha256:000")
        }
    }

    @Test(.needs(.root, .git))
    func anUnreachableGitSourceFailsNamingTheLine() async throws {
        try Prerequisite.require(.root, .git)
        let harness = try WorkerHarness()
        let refusing = try LoopbackPort.refusing()
        defer { close(refusing.socket) }
        let url = "http://127.0.0.1:\(refusing.port)/repo.git"
        await #expect {
            _ = try await harness.build("FROM scratch\nADD \(url) /src\n")
        } throws: { error in
            "\(error)".hasPrefix("Dockerfile:2: ADD \(url): cannot list its refs: ") && !"\(error)".contains("\n")
        }
        #expect(harness.fetcher.fetches == 0)
    }

    @Test(.needs(.root))
    func aLinkedCopyStaysCachedWhenItsParentChanges() async throws {
        try Prerequisite.root.require()
        let harness = try WorkerHarness()
        try harness.write("a.txt", "a\n")
        let (first, _, _) = try await harness.build("FROM scratch\nENV X=1\nCOPY --link a.txt /\n")
        let (second, progress, worker) = try await harness.build("FROM scratch\nENV X=2\nCOPY --link a.txt /\n")
        // The merged result differs (its parent did) but the linked layer came from the cache, unchanged.
        #expect(first.cacheKey != second.cacheKey)
        #expect(progress.cachedTitles == ["[3/3] COPY --link a.txt /"])
        #expect(first.layers.last == second.layers.last)
        #expect(second.container.env?.contains("X=2") == true)
        let copied = try await harness.inspect(second, with: worker) { root in
            FileManager.default.fileExists(atPath: root + "/a.txt")
        }
        #expect(copied)
    }

    @Test(.needs(.root))
    func workdirMakesTheDirectoryOnceAndSetsTheConfig() async throws {
        try Prerequisite.root.require()
        let harness = try WorkerHarness()
        let (result, _, worker) = try await harness.build("FROM scratch\nWORKDIR /app\nWORKDIR sub/../deeper\n")
        #expect(result.container.workingDir == "/app/deeper")
        #expect(result.layers.count == 2)
        #expect(result.config.history?.map(\.createdBy) == ["WORKDIR /app", "WORKDIR /app/deeper"])
        let made = try await harness.inspect(result, with: worker) { root in
            FileManager.default.fileExists(atPath: root + "/app/deeper")
        }
        #expect(made)
    }

    @Test(.needs(.root))
    func anInsecureRunIsRefusedBeforeTheCacheWithoutTheGrant() async throws {
        try Prerequisite.root.require()
        let harness = try WorkerHarness()
        await #expect {
            _ = try await harness.build("FROM scratch\nRUN --security=insecure true\n")
        } throws: { error in
            "\(error)" == "Dockerfile:2: RUN --security=insecure is not allowed: pass --allow security.insecure to img build"
        }
    }

    @Test(.needs(.root))
    func configChangesMakeNoLayerAndRebuildToTheSameConfig() async throws {
        try Prerequisite.root.require()
        let harness = try WorkerHarness()
        let dockerfile = """
            FROM scratch
            SHELL ["/bin/bash", "-c"]
            CMD echo hi
            ENTRYPOINT ["/entry"]
            EXPOSE 80 53/UDP
            USER 1:2
            HEALTHCHECK NONE
            """
        let (first, _, _) = try await harness.build(dockerfile)
        let (second, _, _) = try await harness.build(dockerfile)
        #expect(first.layers.isEmpty)
        #expect(first.container.cmd == ["/bin/bash", "-c", "echo hi"])
        #expect(first.container.entrypoint == ["/entry"])
        #expect(first.container.exposedPorts.map { Set($0.keys) } == ["80/tcp", "53/udp"])
        #expect(first.container.user == "1:2")
        #expect(first.container.healthcheck?.test == ["NONE"])
        #expect(first.config.history?.allSatisfy { $0.emptyLayer == true } == true)
        // The times come from the clock (a scratch base has none to inherit); the rest is the same.
        #expect(first.container == second.container)
        #expect(first.config.history?.map(\.createdBy) == second.config.history?.map(\.createdBy))
        #expect(first.cacheKey == second.cacheKey)
    }
}
