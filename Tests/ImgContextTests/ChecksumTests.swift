import Glibc
import ImgContext
import ImgOCI
import Testing
import ImgTestSupport

struct ChecksumTests {
    private static func fixture() -> Fixture {
        let f = Fixture()
        f.context.file("a.txt", "alpha").file("dir/x.txt", "x").file("dir/sub/y.txt", "y").symlink("dir/l", to: "x.txt")
            .file("dir/noise.log", "n").file(".dockerignore", "**/*.log\n")
        return f
    }

    private static func digest(_ f: Fixture, _ sources: [String] = ["a.txt", "dir"], cache: ChecksumCache? = nil) throws -> Digest {
        try CopySelection.select(sources, in: try f.tree(), followRootSymlinks: true).checksum(cache: cache)
    }

    @Test func unchangedAndTouchedTreesKeepTheirDigest() throws {
        let f = Self.fixture()
        let first = try Self.digest(f)
        #expect(try Self.digest(f) == first)
        f.context.setTime("a.txt", 1_700_000_000)
        f.context.setTime("dir/sub", 1_700_000_123)
        #expect(try Self.digest(f) == first)
        // Ignored files are not part of what is copied.
        f.context.file("dir/noise.log", "changed noise")
        #expect(try Self.digest(f) == first)
    }

    @Test(arguments: ["content", "mode", "link", "added", "removed", "renamed", "directory mode"])
    func changesChangeTheDigest(_ change: String) throws {
        let f = Self.fixture()
        let before = try Self.digest(f)
        switch change {
        case "content": f.context.file("dir/sub/y.txt", "Y")
        case "mode": chmod(f.context.p("dir/x.txt"), 0o755)
        case "link":
            unlink(f.context.p("dir/l"))
            f.context.symlink("dir/l", to: "sub/y.txt")
        case "added": f.context.file("dir/new.txt", "")
        case "removed": unlink(f.context.p("dir/sub/y.txt"))
        case "renamed": rename(f.context.p("dir/x.txt"), f.context.p("dir/x2.txt"))
        default: chmod(f.context.p("dir/sub"), 0o700)
        }
        #expect(try Self.digest(f) != before)
    }

    @Test func whatIsSelectedIsWhatCounts() throws {
        let f = Self.fixture()
        let one = try Self.digest(f, ["a.txt"])
        f.context.file("dir/x.txt", "changed elsewhere")
        #expect(try Self.digest(f, ["a.txt"]) == one)
        // The name a file is copied under is part of it: same content, other name, other digest.
        f.context.file("b.txt", "alpha")
        #expect(try Self.digest(f, ["b.txt"]) != one)
    }

    @Test func ownersCountOnlyWhereTheyAreCopied() throws {
        let f = Self.fixture()
        let context = try Self.digest(f)
        lchown(f.context.p("dir/x.txt"), 1000, 1000)
        #expect(try Self.digest(f) == context)
        let stage = SourceTree.directory(f.context.root)
        let owned = try CopySelection.select(["/dir"], in: stage).checksum(cache: nil)
        lchown(f.context.p("dir/x.txt"), 0, 0)
        #expect(try CopySelection.select(["/dir"], in: stage).checksum(cache: nil) != owned)
    }

    @Test func theCacheIsUsedAndPersists() throws {
        let f = Self.fixture()
        let db = f.scratch.path + "/context-checksums.db"
        let cache = try ChecksumCache(path: db)
        let cold = try Self.digest(f, cache: cache)
        #expect(cold == (try Self.digest(f)))
        // a.txt, dir/x.txt, dir/sub/y.txt: all hashed, all remembered (their mtimes are long past).
        #expect(cache.statistics == ChecksumCache.Statistics(hits: 0, misses: 3, stored: 3))

        let reopened = try ChecksumCache(path: db)
        #expect(try Self.digest(f, cache: reopened) == cold)
        // The whole selection is known by its stat data: one lookup, no per-file ones.
        #expect(reopened.statistics == ChecksumCache.Statistics(hits: 0, misses: 0, stored: 0, selectionHits: 1))

        // Same size, same mtime, same inode: the cache answers without reading. Prove it by changing the
        // bytes behind its back: the cached digest is the old one, a fresh hash sees the new content.
        let fd = open(f.context.p("a.txt"), O_WRONLY)
        _ = Array("ALPHA".utf8).withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        close(fd)
        f.context.setTime("a.txt", 1_600_000_000)
        #expect(try Self.digest(f, cache: reopened) == cold)
        #expect(try Self.digest(f) != cold)

        // A changed mtime is a miss, and the new content is seen.
        f.context.setTime("a.txt", 1_600_000_001)
        #expect(try Self.digest(f, cache: reopened) == (try Self.digest(f)))
        #expect(reopened.statistics.misses == 1 && reopened.statistics.hits == 2)
    }

    @Test func recentlyModifiedFilesAreNotRemembered() throws {
        let f = Self.fixture()
        let cache = try ChecksumCache(path: f.scratch.path + "/c.db")
        // Written just now: within the same timestamp tick it could change again unnoticed.
        f.context.file("fresh.txt", "new")
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var ts = [now, now]
        utimensat(AT_FDCWD, f.context.p("fresh.txt"), &ts, 0)
        _ = try Self.digest(f, ["fresh.txt", "a.txt"], cache: cache)
        #expect(cache.statistics == ChecksumCache.Statistics(hits: 0, misses: 2, stored: 1))
        // Nor is the selection that holds it: the next checksum looks at the files again.
        _ = try Self.digest(f, ["fresh.txt", "a.txt"], cache: cache)
        #expect(cache.statistics == ChecksumCache.Statistics(hits: 1, misses: 3, stored: 1, selectionHits: 0, shapeHits: 1))
    }

    @Test func twoCachesOnOneFileAgree() async throws {
        let f = Self.fixture()
        let db = f.scratch.path + "/shared.db"
        let tree = try f.tree()
        let selection = try CopySelection.select(["a.txt", "dir"], in: tree)
        let expected = try selection.checksum(cache: nil)
        // Two independent connections (as two img processes would have) writing the same rows at once.
        let results = try await withThrowingTaskGroup(of: Digest.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    let cache = try ChecksumCache(path: db)
                    return try selection.checksum(cache: cache)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results == [expected, expected])
        let after = try ChecksumCache(path: db)
        _ = try selection.checksum(cache: after)
        #expect(after.statistics.selectionHits == 1)
    }

    /// A big selection after a `touch` (its fingerprint no longer matches) is answered by the list stored
    /// under its shape (the same paths and modes): every untouched file is a hit, the touched one is read
    /// again.
    @Test func aTouchedBigSelectionRereadsOnlyTheTouchedFile() throws {
        let f = Fixture()
        for i in 0..<300 { f.context.file("many/d\(i % 3)/f\(i).txt", "file \(i)") }
        f.context.file("elsewhere.txt", "not selected")
        let cache = try ChecksumCache(path: f.scratch.path + "/c.db")
        let first = try Self.digest(f, ["many"], cache: cache)
        #expect(cache.statistics == ChecksumCache.Statistics(hits: 0, misses: 300, stored: 300))
        f.context.setTime("many/d1/f1.txt", 1_700_000_000)
        let reopened = try ChecksumCache(path: f.scratch.path + "/c.db")
        #expect(try Self.digest(f, ["many"], cache: reopened) == first)
        #expect(reopened.statistics == ChecksumCache.Statistics(hits: 299, misses: 1, stored: 1, shapeHits: 299))
    }

    /// Edits to a few files: the shape's list still answers the others, the edited ones come from the
    /// per-file rows once hashed, and every answer is the content's (compared with no cache at all).
    @Test func editsAfterTheListWasStoredAreSeen() throws {
        let f = Fixture()
        for i in 0..<300 { f.context.file("many/d\(i % 3)/f\(i).txt", "file \(i)") }
        let db = f.scratch.path + "/c.db"
        _ = try Self.digest(f, ["many"], cache: try ChecksumCache(path: db))
        for (round, name) in ["many/d1/f1.txt", "many/d2/f2.txt", "many/d1/f1.txt"].enumerated() {
            f.context.file(name, "edited \(round)")
            f.context.setTime(name, 1_700_000_000 + round)
            let cache = try ChecksumCache(path: db)
            let fresh = try Self.digest(f, ["many"])
            #expect(try Self.digest(f, ["many"], cache: cache) == fresh)
            // The list was stored before any edit: it answers all but the files edited since.
            let edited = round == 0 ? 1 : 2
            #expect(cache.statistics.shapeHits == 300 - edited)
            #expect(cache.statistics.misses == 1)
            // All trusted: the next checksum is one lookup of the whole selection.
            #expect(try Self.digest(f, ["many"], cache: cache) == fresh)
            #expect(cache.statistics.selectionHits == 1)
        }
    }

    /// A new file changes the shape: no list answers, the per-file rows do (one range scan for many files).
    @Test func anAddedFileFallsBackToThePerFileRows() throws {
        let f = Fixture()
        for i in 0..<300 { f.context.file("many/d\(i % 3)/f\(i).txt", "file \(i)") }
        let db = f.scratch.path + "/c.db"
        _ = try Self.digest(f, ["many"], cache: try ChecksumCache(path: db))
        f.context.file("many/d0/new.txt", "new")
        f.context.setTime("many/d0/new.txt", 1_700_000_000)
        let cache = try ChecksumCache(path: db)
        #expect(try Self.digest(f, ["many"], cache: cache) == (try Self.digest(f, ["many"])))
        #expect(cache.statistics == ChecksumCache.Statistics(hits: 300, misses: 1, stored: 1, shapeHits: 0))
    }

    /// Two threads stat the halves of a big tree; the records join in order, so the digest is the one a
    /// single pass gives, with files, links and directories on both sides of the split.
    @Test func theTwoThreadedStatWalkMatchesOnePass() throws {
        let f = Fixture()
        for i in 0..<400 {
            f.context.file("t/d\(i % 7)/f\(i).txt", "file \(i)")
            if i % 50 == 0 { f.context.symlink("t/d\(i % 7)/l\(i)", to: "f\(i).txt") }
        }
        let selection = try CopySelection.select(["t"], in: try f.tree())
        let onePass = try selection.checksum(cache: nil, splitAbove: .max)
        #expect(try selection.checksum(cache: nil, splitAbove: 10) == onePass)
        let cache = try ChecksumCache(path: f.scratch.path + "/c.db")
        #expect(try selection.checksum(cache: cache, splitAbove: 10) == onePass)
        #expect(cache.statistics.misses == 400)
        f.context.file("t/d6/f6.txt", "changed")
        let changed = try CopySelection.select(["t"], in: try f.tree())
        #expect(try changed.checksum(cache: nil, splitAbove: 10) == (try changed.checksum(cache: nil, splitAbove: .max)))
        #expect(try changed.checksum(cache: nil, splitAbove: 10) != onePass)
    }
}
