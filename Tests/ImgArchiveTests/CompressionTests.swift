import Glibc
import ImgArchive
import ImgOCI
import ImgSystem
import Testing
import ImgTestSupport

@Suite struct CompressionTests {
    static func makeTree(_ root: String) {
        let t = TreeBuilder(root: root)
        t.dir("d")
        t.file("d/text", String(repeating: "compressible text ", count: 5000))
        t.file("small", "x")
        t.symlink("link", to: "d/text")
    }

    @Test(.needs(.gzip, .zstd, .tar, .sha256sum),
          arguments: LayerCompression.allCases)
    func layerBlobDecompressesAndDigestsMatch(_ compression: LayerCompression) throws {
        try Prerequisite.require(.gzip, .zstd, .tar, .sha256sum)
        let tmp = try TemporaryDirectory("img-archive-test")
        let tree = tmp.directory("tree")
        Self.makeTree(tree)
        let blob = tmp["layer.blob"]
        let digests = try LayerExport.directory(tree, toFile: blob, options: .init(compression: compression))
        #expect(digests.compression == compression)
        #expect(try sha256sum(blob) == digests.digest.description)
        var st = stat()
        stat(blob, &st)
        #expect(Int64(st.st_size) == digests.size)

        let tarPath = tmp["layer.tar"]
        switch compression {
        case .gzip:
            #expect(try run(["gzip", "-t", blob]).status == 0)
            #expect(try run(["sh", "-c", "gzip -dc '\(blob)' > '\(tarPath)'"]).status == 0)
        case .zstd:
            #expect(try run(["zstd", "-q", "-t", blob]).status == 0)
            #expect(try run(["zstd", "-q", "-d", "-f", blob, "-o", tarPath]).status == 0)
        case .uncompressed:
            #expect(try run(["cp", blob, tarPath]).status == 0)
        }
        #expect(try sha256sum(tarPath) == digests.diffID.description)
        stat(tarPath, &st)
        #expect(Int64(st.st_size) == digests.uncompressedSize)
        let listed = try run(["tar", "-tvf", tarPath])
        #expect(listed.status == 0)
        #expect(listed.output.contains("d/text") && listed.output.contains("link -> d/text"))
        // Our reader detects the compression itself.
        #expect(try entries(ofTar: blob).map(\.path) == ["d", "d/text", "link", "small"])
    }

    @Test(arguments: [LayerCompression.gzip, .zstd])
    func standaloneCompressAndDecompress(_ compression: LayerCompression) throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        let tree = tmp.directory("tree")
        Self.makeTree(tree)
        let tarSink = try FileSink(creating: tmp["plain.tar"])
        try TreeArchive.create(from: tree, to: tarSink)
        tarSink.close()
        let packed = try Compression.compress(file: tmp["plain.tar"], to: tmp["packed"], compression: compression, level: 9)
        let unpacked = try Compression.decompress(file: tmp["packed"], to: tmp["unpacked.tar"])
        #expect(unpacked.digest == packed.diffID)
        #expect(unpacked.size == packed.uncompressedSize)
        #expect(packed.size < packed.uncompressedSize)
        let plain = try Compression.decompress(file: tmp["plain.tar"], to: tmp["copy.tar"])
        #expect(plain.digest == packed.diffID)
    }

    @Test func gzipIsDeterministicAcrossRunsAndLevelsDiffer() throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        let tree = tmp.directory("tree")
        Self.makeTree(tree)
        let a = MemorySink(), b = MemorySink(), fast = MemorySink()
        let da = try LayerExport.directory(tree, to: a)
        let db = try LayerExport.directory(tree, to: b)
        let df = try LayerExport.directory(tree, to: fast, options: .init(compressionLevel: 1))
        #expect(a.bytes == b.bytes && da == db)
        #expect(df.diffID == da.diffID)
        #expect(df.digest != da.digest)
        // No timestamp in the gzip header (bytes 4..<8).
        #expect(Array(a.bytes[4..<8]) == [0, 0, 0, 0])
    }

    @Test func applyRejectsAWrongDiffID() throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        let tree = tmp.directory("tree")
        Self.makeTree(tree)
        let digests = try LayerExport.directory(tree, toFile: tmp["layer.tgz"])
        let wrong = Digest.sha256(of: Array("not it".utf8))
        let error = try #require(throws: ArchiveError.self) {
            try LayerApplier.apply(layerAt: tmp["layer.tgz"], to: tmp.directory("root"), expectedDiffID: wrong)
        }
        #expect(error.code == .digestMismatch)
        let summary = try LayerApplier.apply(layerAt: tmp["layer.tgz"], to: tmp.directory("root2"), expectedDiffID: digests.diffID)
        #expect(summary.diffID == digests.diffID)
    }

    @Test func largeFileStreams() throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        let tree = tmp.directory("tree")
        let fd = open(tree + "/big", O_WRONLY | O_CREAT, 0o644)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in 0..<64 {
            // Half pseudo-random, half zeros: compressible but not trivially.
            for j in stride(from: 0, to: chunk.count / 2, by: 8) {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                withUnsafeBytes(of: state) { chunk.replaceSubrange(j..<j + 8, with: $0) }
            }
            chunk[0] = UInt8(i)
            _ = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }
        close(fd)
        let digests = try LayerExport.directory(tree, toFile: tmp["big.tgz"])
        #expect(digests.uncompressedSize > 64 << 20)
        let summary = try LayerApplier.apply(layerAt: tmp["big.tgz"], to: tmp.directory("out"), expectedDiffID: digests.diffID)
        #expect(summary.bytes == 64 << 20)
        #expect(try snapshot(tree + "/big", includeTimes: false) == snapshot(tmp["out/big"], includeTimes: false))
    }

    /// gzip and zstd are required; bzip2 and xz are read when installed.
    @Test(.needs(.tar, .gzip, .zstd))
    func readsEveryCompressionDebianToolsWrite() throws {
        try Prerequisite.require(.tar, .gzip, .zstd)
        let tmp = try TemporaryDirectory("img-archive-test")
        let tree = tmp.directory("tree")
        Self.makeTree(tree)
        var tested = 0
        for (flag, tool) in [("-z", "gzip"), ("-j", "bzip2"), ("-J", "xz"), ("--zstd", "zstd")] {
            guard Prerequisite.tool(tool, package: tool).isPresent else { continue }
            let path = tmp["t.\(tool)"]
            #expect(try run(["tar", flag, "-cf", path, "-C", tree, "."]).status == 0)
            #expect(Set(try entries(ofTar: path).map(\.path)) == ["", "d", "d/text", "link", "small"], "\(tool)")
            tested += 1
        }
        #expect(tested >= 1)
    }

    @Test(.needs(.gzip))
    func parallelGzipIsValidDeterministicAndReadable() throws {
        try Prerequisite.require(.gzip)
        let tmp = try TemporaryDirectory("img-archive-test")
        let tree = tmp.directory("tree")
        Self.makeTree(tree)
        TreeBuilder(root: tree).file("more", String(repeating: "0123456789abcdef", count: 20_000))
        let options = LayerWriteOptions(gzipBlockSize: 16 << 10)
        let first = try LayerExport.directory(tree, toFile: tmp["a.tgz"], options: options)
        let second = try LayerExport.directory(tree, toFile: tmp["b.tgz"], options: options)
        let single = try LayerExport.directory(tree, toFile: tmp["single.tgz"])
        #expect(first == second)
        #expect(first.diffID == single.diffID)
        #expect(try sha256sum(tmp["a.tgz"]) == first.digest.description)
        #expect(try run(["gzip", "-t", tmp["a.tgz"]]).status == 0)
        #expect(try run(["sh", "-c", "gzip -dc '\(tmp["a.tgz"])' | sha256sum"]).output.hasPrefix(first.diffID.hex))
        let summary = try LayerApplier.apply(layerAt: tmp["a.tgz"], to: tmp.directory("out"), expectedDiffID: first.diffID)
        #expect(summary.bytes > 16 << 10 * 10)
        // An empty input is still one valid member.
        let empty = MemorySink()
        let sink = try CompressingSink(compression: .gzip, gzipBlockSize: 1024, output: empty)
        let digests = try sink.finish()
        #expect(!empty.bytes.isEmpty && digests.uncompressedSize == 0)
        let unpacked = try Compression.decompress(file: tmp["a.tgz"], to: tmp["a.tar"])
        #expect(unpacked.digest == first.diffID)
    }

    /// Random blocks are stored, not compressed (libdeflate would spend level 6's time to save nothing);
    /// text blocks are compressed; the layer reads back the same either way and is the same bytes twice.
    @Test(.needs(.gzip))
    func incompressibleBlocksAreStored() throws {
        try Prerequisite.require(.gzip)
        let tmp = try TemporaryDirectory("img-archive-test")
        let tree = tmp.directory("tree")
        var generator = SystemRandomNumberGenerator()
        let random = (0..<(2 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let fd = open(tree + "/random.bin", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = random.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        let text = String(repeating: "the quick brown fox jumps over the lazy dog 0123456789\n", count: 40_000)
        TreeBuilder(root: tree).file("text.txt", text)
        #expect(ParallelGzipCompressor.looksIncompressible(UnsafeRawBufferPointer(start: random, count: 1 << 20)))
        #expect(!Array(text.utf8).withUnsafeBytes { ParallelGzipCompressor.looksIncompressible($0) })

        let options = LayerWriteOptions(gzipBlockSize: 1 << 20)
        let first = try LayerExport.directory(tree, toFile: tmp["a.tgz"], options: options)
        #expect(try LayerExport.directory(tree, toFile: tmp["b.tgz"], options: options) == first)
        // 2 MiB stored plus the text (2.2 MB) compressed to a few KB.
        var st = stat()
        #expect(stat(tmp["a.tgz"], &st) == 0 && st.st_size > 2 << 20 && st.st_size < (2 << 20) + 200_000, "\(st.st_size)")
        #expect(try run(["gzip", "-t", tmp["a.tgz"]]).status == 0)
        #expect(try run(["sh", "-c", "gzip -dc '\(tmp["a.tgz"])' | sha256sum"]).output.hasPrefix(first.diffID.hex))
        let out = tmp.directory("out")
        _ = try LayerApplier.apply(layerAt: tmp["a.tgz"], to: out, expectedDiffID: first.diffID)
        #expect(try run(["cmp", tree + "/random.bin", out + "/random.bin"]).status == 0)
    }

    @Test func emptyBlobIsAnEmptyLayer() throws {
        let tmp = try TemporaryDirectory("img-archive-test")
        TreeBuilder(root: tmp.path).file("empty.blob", "")
        let summary = try LayerApplier.apply(layerAt: tmp["empty.blob"], to: tmp.directory("root"))
        #expect(summary.entries == 0)
        #expect(summary.diffID == Digest.sha256(of: [UInt8]()))
    }
}
