import Glibc
import ImgArchive
import ImgSystem
import Testing
import ImgTestSupport

@Suite struct TarReaderWriterTests {
    static let samples: [TarEntry] = [
        TarEntry(path: "dir", kind: .directory, permissions: 0o1755, uid: 1, gid: 2, modificationTime: Timestamp(seconds: 1_234_567_890, nanoseconds: 5)),
        TarEntry(path: "dir/file", kind: .regular, permissions: 0o6755, uid: 1000, gid: 1000, size: 3,
                 xattrs: ["user.a": [1, 2, 0, 255], "security.capability": [1, 0, 0, 2]]),
        TarEntry(path: "dir/hard", kind: .hardlink, linkTarget: "dir/file"),
        TarEntry(path: "sym", kind: .symlink, permissions: 0o777, linkTarget: "../far/away"),
        TarEntry(path: "null", kind: .characterDevice, permissions: 0o666, deviceMajor: 1, deviceMinor: 3),
        TarEntry(path: "sda", kind: .blockDevice, permissions: 0o660, gid: 6, deviceMajor: 8, deviceMinor: 0),
        TarEntry(path: "pipe", kind: .fifo, permissions: 0o600),
        TarEntry(path: String(repeating: "long-name/", count: 30) + "leaf", kind: .regular),
        TarEntry(path: "big-ids", kind: .regular, uid: 4_000_000_000, gid: 3_000_000),
        TarEntry(path: "naïve ✓", kind: .regular),
    ]

    @Test func everyFieldSurvivesWriteAndRead() throws {
        let sink = MemorySink()
        let writer = try TarWriter(sink: sink)
        for entry in Self.samples {
            try writer.write(entry, contents: entry.kind == .regular ? [UInt8](repeating: 7, count: Int(entry.size)) : [])
        }
        try writer.finish()
        let reader = try TarReader(source: MemorySource(sink.bytes))
        var read: [TarEntry] = []
        while let entry = try reader.next() {
            if entry.kind == .regular { #expect(try reader.readAll() == [UInt8](repeating: 7, count: Int(entry.size))) }
            read.append(entry)
        }
        #expect(read == Self.samples)
        for (a, b) in zip(read, Self.samples) where a != b { Issue.record("read \(a)\nwrote \(b)") }
        #expect(sink.bytes.count % 512 == 0)
    }

    @Test func emptyInputIsAnEmptyArchive() throws {
        #expect(try TarReader(source: MemorySource([])).next() == nil)
        #expect(try TarReader(source: MemorySource([UInt8](repeating: 0, count: 1024))).next() == nil)
    }

    @Test func garbageIsAFormatError() throws {
        let error = try #require(throws: ArchiveError.self) {
            let reader = try TarReader(source: MemorySource(Array(String(repeating: "not a tar at all ", count: 100).utf8)), label: "junk")
            _ = try reader.next()
        }
        #expect(error.code == .format)
        #expect(error.description.hasPrefix("junk: "))
    }

    @Test func truncatedContentIsAnError() throws {
        let sink = MemorySink()
        let writer = try TarWriter(sink: sink)
        try writer.write(TarEntry(path: "f", kind: .regular), contents: [UInt8](repeating: 1, count: 5000))
        try writer.finish()
        let reader = try TarReader(source: MemorySource(Array(sink.bytes[0..<2048])))
        _ = try reader.next()
        #expect(throws: ArchiveError.self) { _ = try reader.readAll() }
    }

    @Test func writerRefusesWrongSizes() throws {
        let writer = try TarWriter(sink: MemorySink())
        try writer.writeHeader(TarEntry(path: "f", kind: .regular, size: 2))
        let three = UnsafeMutableRawBufferPointer.allocate(byteCount: 3, alignment: 1)
        defer { three.deallocate() }
        three.initializeMemory(as: UInt8.self, repeating: 0)
        #expect(throws: ArchiveError.self) { try writer.writeContents(UnsafeRawBufferPointer(three)) }
        #expect(throws: ArchiveError.self) { try writer.finish() }
    }

    @Test func sinkErrorsSurface() throws {
        final class FailingSink: ByteSink {
            struct Boom: Error {}
            func write(_ bytes: UnsafeRawBufferPointer) throws { throw Boom() }
        }
        let error = try #require(throws: ArchiveError.self) {
            let writer = try TarWriter(sink: FailingSink(), label: "out")
            try writer.write(TarEntry(path: "f", kind: .regular), contents: [UInt8](repeating: 1, count: 200_000))
            try writer.finish()
        }
        #expect(error.code == .stream)
    }
}
