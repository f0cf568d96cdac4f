import Foundation
import Glibc
import ImgArchive
import ImgOCI
import ImgSnapshot
import ImgSystem

/// `img-bench layers`: a generated tree (200 MB in 20,000 files by default) through every snapshotter
/// (apply of its layer = prepare; diff of a workspace holding it = diff + gzip), and layer export
/// (tar + gzip + sha256 in one pass) against `tar -c | gzip -6 | sha256sum` on the same tree, and zstd.
/// Needs root (mounts); it enters a private mount namespace first, as img does.
enum LayerBenchmark {
    static func run(_ options: [String]) async {
        var megabytes = 200
        var files = 20_000
        var directory = "/var/tmp"
        var exportOnly = false
        var skipExport = false
        var backends = SnapshotBackend.allCases
        var index = 0
        while index < options.count {
            let value = index + 1 < options.count ? options[index + 1] : ""
            switch options[index] {
            case "--megabytes": megabytes = Int(value) ?? megabytes
            case "--files": files = Int(value) ?? files
            case "--dir": directory = value
            case "--backends": backends = value.split(separator: ",").compactMap { SnapshotBackend(rawValue: String($0)) }
            case "--export-only", "--no-export":
                if options[index] == "--export-only" { exportOnly = true } else { skipExport = true }
                index += 1
                continue
            default: usage()
            }
            index += 2
        }
        do {
            try UserNamespace.enterIfNeeded(privateMountsForRoot: true)
            try await measure(bytes: megabytes * 1_000_000, files: max(files, 1), in: directory, exportOnly: exportOnly, skipExport: skipExport, backends: backends)
        } catch {
            print("layers: \(error)")
            exit(1)
        }
    }

    static func measure(bytes: Int, files: Int, in parent: String, exportOnly: Bool, skipExport: Bool,
                        backends: [SnapshotBackend]) async throws {
        var template = Array("\(parent)/img-bench-layers-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else { throw SystemError.errno("mkdtemp") }
        let work = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { _ = try? ChildProcess.collect(executable: "/bin/rm", arguments: ["-rf", "--one-file-system", work]) }
        let tree = work + "/tree"
        let generated = try TreeGenerator.generate(at: tree, bytes: bytes, files: files)
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        // Wall times on a shared machine depend on what else runs: the load average says how busy it was.
        func load() -> String { ((try? SmallTextFile.read("/proc/loadavg")) ?? nil).map { String($0.prefix(14)) } ?? "?" }
        print("layers: \(format(Double(generated) / 1e6)) MB in \(files) files, \(cores) cores, \(work), load \(load())")
        defer { print("load at the end: \(load())") }
        let mb = Double(generated) / 1e6
        func line(_ name: String, _ seconds: Double, _ extra: String = "") {
            print("  \(name.padding(toLength: 48, withPad: " ", startingAt: 0)) \(format(seconds)) s  \(format(mb / seconds)) MB/s\(extra)")
        }
        // Each phase starts with nothing left to write back, so one phase's dirty pages do not slow the next.
        func settle() { _ = try? ChildProcess.collect(executable: "/bin/sync", arguments: []) }
        func pipeline(_ command: String) throws -> Double {
            settle()
            return try time {
                let r = try ChildProcess.collect(executable: "/bin/sh", arguments: ["-c", "tar -C '\(tree)' -cf - . | \(command) | sha256sum"])
                guard r.status.isSuccess else { throw SystemError(operation: "\(command): \(r.stderr)", code: EIO) }
            }
        }
        func export(_ options: LayerWriteOptions) throws -> (Double, BlobDigests) {
            settle()
            var digests: BlobDigests?
            let seconds = try time { digests = try LayerExport.directory(tree, to: DiscardSink(), options: options) }
            return (seconds, digests!)
        }

        // Export: one pass of tar, compression, digest and diffID.
        if !skipExport {
        print("export (tar + compress + sha256):")
        let shell = try pipeline("gzip -6")
        line("tar -c | gzip -6 | sha256sum", shell)
        for block in [256 << 10, 1 << 20, 4 << 20] {
            let (seconds, digests) = try export(LayerWriteOptions(gzipBlockSize: block))
            line("LayerExport gzip -6, \(block >> 10) KiB blocks, all cores", seconds,
                 "  \(format(shell / seconds))x the pipeline, \(format(Double(digests.size) / 1e6)) MB out")
        }
        let (single, singleDigests) = try export(LayerWriteOptions())
        line("LayerExport gzip -6, single stream", single,
             "  \(format(shell / single))x the pipeline, \(format(Double(singleDigests.size) / 1e6)) MB out")
        let shellZstd = try pipeline("zstd -3 -q -c")
        line("tar -c | zstd -3 | sha256sum", shellZstd)
        let (zstd, zstdDigests) = try export(LayerWriteOptions(compression: .zstd))
        line("LayerExport zstd -3, one thread", zstd,
             "  \(format(shellZstd / zstd))x the pipeline, \(format(Double(zstdDigests.size) / 1e6)) MB out")
        let (zstdMT, zstdMTDigests) = try export(LayerWriteOptions(compression: .zstd, zstdWorkers: cores))
        line("LayerExport zstd -3, \(cores) workers", zstdMT,
             "  \(format(shellZstd / zstdMT))x the pipeline, \(format(Double(zstdMTDigests.size) / 1e6)) MB out")
        let (_, zstdOneWorker) = try export(LayerWriteOptions(compression: .zstd, zstdWorkers: 1))
        print("  zstd blob with 1 worker \(zstdOneWorker.digest == zstdMTDigests.digest ? "==" : "!=") with \(cores) workers")
        }
        if exportOnly || backends.isEmpty { return }

        // The layer every backend applies.
        let blob = work + "/layer.tar.gz"
        let digests = try LayerExport.directory(tree, toFile: blob, options: LayerWriteOptions(gzipBlockSize: CompressingSink.defaultGzipBlockSize))
        let layer = LayerBlob(path: blob, diffID: digests.diffID, label: "bench layer")
        for backend in backends {
            let root = "\(work)/state-\(backend.rawValue)/snapshots"
            if let reason = try SnapshotStore.unavailability(of: backend, root: root) {
                print("\(backend.rawValue): unavailable: \(reason)")
                continue
            }
            let store = try SnapshotStore(root: root, backend: backend)
            print("\(backend.rawValue):")
            settle()
            let prepare = try await timeAsync { _ = try await store.prepare([layer]) }
            line("prepare (apply the gzip layer)", prepare)
            let workspace = try await store.workspace(on: .empty)
            let copy = try time { try TreeCopy.copy(from: tree, to: workspace.rootfs) }
            line("(write the tree into a workspace)", copy)
            settle()
            let diff = try await timeAsync {
                _ = try await store.diff(workspace, to: DiscardSink(), options: LayerWriteOptions(gzipBlockSize: CompressingSink.defaultGzipBlockSize))
            }
            line("diff + gzip of the workspace", diff)
            await store.release(workspace)
            _ = try? await store.prune(keeping: [])
        }
    }

    static func format(_ value: Double) -> String { String(format: "%.2f", value) }

    static func time(_ body: () throws -> Void) throws -> Double {
        let start = ContinuousClock.now
        try body()
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    static func timeAsync(_ body: () async throws -> Void) async throws -> Double {
        let start = ContinuousClock.now
        try await body()
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

/// Drops what it is given (the benchmark measures producing it).
final class DiscardSink: ByteSink {
    func write(_ bytes: UnsafeRawBufferPointer) throws {}
}

/// A deterministic tree that compresses like source code (about 3:1 with gzip -6): words from a small
/// vocabulary, in 100 directories of files of varied size.
enum TreeGenerator {
    static func format(_ value: Double) -> String { String(format: "%.2f", value) }

    static func generate(at root: String, bytes: Int, files: Int) throws -> Int {
        let words = ("func let var return if else for while import struct class enum case switch default true false nil self "
            + "init deinit throw throws try catch guard where in as is public private package static final override").split(separator: " ")
            .map { Array($0.utf8) }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        let directories = max(1, files / 200)
        guard mkdir(root, 0o755) == 0 else { throw SystemError.errno("mkdir \(root)") }
        for d in 0..<directories { guard mkdir("\(root)/d\(d)", 0o755) == 0 else { throw SystemError.errno("mkdir") } }
        var written = 0
        let average = bytes / files
        var buffer: [UInt8] = []
        for f in 0..<files {
            // Sizes from a tenth to about twice the average, so some files are large.
            // Uniform between a tenth of the average and 1.9 times it (mean: the average); the last file
            // takes what is left.
            let size = f == files - 1 ? max(0, bytes - written) : Int(next() % UInt64(max(1, 18 * average / 10))) + average / 10
            buffer.removeAll(keepingCapacity: true)
            while buffer.count < size {
                // Mostly words, with some random bytes (identifiers, numbers) so it is not too easy.
                let r = next()
                if r % 4 == 0 {
                    for shift in stride(from: 0, to: 48, by: 8) { buffer.append(UInt8(truncatingIfNeeded: r >> shift) % 64 + 48) }
                } else {
                    buffer += words[Int(r >> 8) % words.count]
                }
                buffer.append(r % 7 == 0 ? 10 : 32)
            }
            buffer.removeLast(buffer.count - size)
            let path = "\(root)/d\(f % directories)/f\(f)"
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw SystemError.errno("open \(path)") }
            defer { close(fd) }
            let n = buffer.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n == size else { throw SystemError.errno("write \(path)") }
            written += size
        }
        return written
    }
}
