import Foundation
import ImgOCI
import ImgRegistry
import Synchronization
import Testing
import ImgTestSupport

/// Per-layer progress of `img pull`, `img push` and a build's base-image pull and push, through the real
/// binary: redrawn in place on a terminal (a pseudo-terminal python3's `pty` gives it), plain lines when
/// the output is a pipe. A slow proxy in front of the registry keeps a download going long enough to be seen.
@Suite struct TransferProgressTests {
    typealias Img = CommandLineRegistryTests.Img

    /// A size as the views print it (decimal megabytes, one decimal, for the few-MB layers here).
    static func mb(_ bytes: Int64) -> String { String(format: "%.1fMB", Double(bytes) / 1e6) }

    /// Runs img with its stdout and stderr on a pseudo-terminal; returns its status and everything it wrote
    /// there (with the terminal's \r\n line ends).
    static func onTerminal(_ img: Img, _ args: [String]) throws -> (status: Int32, out: String) {
        let script = """
            import os, pty, sys
            pid, fd = pty.fork()
            if pid == 0:
                os.execv(sys.argv[1], sys.argv[1:])
            out = b""
            while True:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    break
                if not data:
                    break
                out += data
            _, status = os.waitpid(pid, 0)
            sys.stdout.buffer.write(out)
            sys.exit(os.waitstatus_to_exitcode(status))
            """
        let r = try HelperProcess.run("python3", ["-c", script, Img.binary, "-s", img.state.path] + args, environment: img.environment)
        return (r.status, String(decoding: r.stdout, as: UTF8.self))
    }

    /// A layer of busybox and 2 MiB of noise pushed to a fresh registry as test/progress:v1, and a proxy that sends blob bodies at
    /// about 3 MB/s.
    static func withSlowImage(_ body: (TestRegistry, FaultProxy, TestImage) async throws -> Void) async throws {
        try await withRegistry { registry in
            let image = try TestImage.make(in: registry.dir, padding: 2 << 20)
            try await withClient(settings: registry.settings()) { client in
                _ = try await client.pushImage(try registry.reference("test/progress:v1"), root: image.root) { try image.content($0) }
            }
            let proxy = try await FaultProxy(before: registry, faults: ["slow=0.02"])
            defer { proxy.stop() }
            try await body(registry, proxy, image)
        }
    }

    @Test(.needs(.imgBinary, .dockerRegistry, .python3, .busybox, .tar, .gzip))
    func pullAndPushOnATerminalRedrawEachLayersLine() async throws {
        try Prerequisite.require(.imgBinary, .dockerRegistry, .python3, .busybox, .tar, .gzip)
        try await Self.withSlowImage { registry, proxy, image in
            let img = try Img()
            defer { img.remove() }
            let layer = String(image.layer.descriptor.digest.hex.prefix(12)), size = Self.mb(image.layer.descriptor.size)
            let pull = try Self.onTerminal(img, ["pull", "\(proxy.host)/test/progress:v1"])
            #expect(pull.status == 0, "\(pull.out)")
            // Midway: the bar, bytes done of the total and the speed; at the end the line says it is complete.
            #expect(pull.out.contains("\(layer): Downloading ["), "\(pull.out)")
            #expect(pull.out.contains("/\(size)"), "\(pull.out)")
            #expect(pull.out.range(of: #"MB/s"#) != nil, "\(pull.out)")
            #expect(pull.out.contains("\(layer): Download complete"), "\(pull.out)")
            // Each frame is drawn over the last one.
            #expect(pull.out.contains("\u{1B}[1A\r\u{1B}[J"), "\(pull.out)")
            #expect(pull.out.contains("Digest: \(image.root.digest)"), "\(pull.out)")

            // The push: the new repository has no layer yet, so it is uploaded and says Pushed.
            let target = "\(registry.host)/test/progress-copy:v1"
            #expect(try img(["tag", "\(proxy.host)/test/progress:v1", target]).status == 0)
            let push = try Self.onTerminal(img, ["push", target])
            #expect(push.status == 0, "\(push.out)")
            #expect(push.out.contains("\(layer): Pushed"), "\(push.out)")
            #expect(push.out.contains("digest: \(image.root.digest)"), "\(push.out)")
            // Again: the registry has it now.
            let again = try Self.onTerminal(img, ["push", target])
            #expect(again.out.contains("\(layer): Layer already exists"), "\(again.out)")
        }
    }

    @Test(.needs(.imgBinary, .dockerRegistry, .python3, .busybox, .tar, .gzip))
    func pullAndPushIntoAPipePrintPlainLines() async throws {
        try Prerequisite.require(.imgBinary, .dockerRegistry, .python3, .busybox, .tar, .gzip)
        try await Self.withSlowImage { registry, proxy, image in
            let img = try Img()
            defer { img.remove() }
            let layer = String(image.layer.descriptor.digest.hex.prefix(12)), size = Self.mb(image.layer.descriptor.size)
            let pull = try img(["pull", "\(proxy.host)/test/progress:v1"])
            #expect(pull.status == 0, "\(pull.err)")
            let lines = pull.out.split(separator: "\n").map(String.init)
            #expect(lines.first == "Pulling \(proxy.host)/test/progress:v1", "\(pull.out)")
            #expect(lines.contains("\(layer): Downloading \(size)"), "\(pull.out)")
            #expect(lines.filter { $0.hasPrefix("\(layer): Download complete (") && $0.hasSuffix("/s)") }.count == 1, "\(pull.out)")
            #expect(lines.suffix(2) == ["Digest: \(image.root.digest)", "Pulled: \(proxy.host)/test/progress:v1"], "\(pull.out)")
            #expect(!pull.out.contains("\u{1B}"), "no terminal codes in a pipe")

            let target = "\(registry.host)/test/progress-copy:v1"
            #expect(try img(["tag", "\(proxy.host)/test/progress:v1", target]).status == 0)
            let push = try img(["push", target])
            #expect(push.status == 0, "\(push.err)")
            let pushed = push.out.split(separator: "\n").map(String.init)
            #expect(pushed.contains("\(layer): Pushing \(size)"), "\(push.out)")
            #expect(pushed.filter { $0 == "\(layer): Pushed" }.count == 1, "\(push.out)")
            #expect(!push.out.contains("\u{1B}"))
        }
    }

    @Test(.needs(.imgBinary, .dockerRegistry, .python3, .busybox, .tar, .gzip, .runc))
    func aBuildShowsItsBaseImagesDownloadAndItsPush() async throws {
        try Prerequisite.require(.imgBinary, .dockerRegistry, .python3, .busybox, .tar, .gzip, .runc)
        try await Self.withSlowImage { registry, proxy, image in
            let img = try Img()
            defer { img.remove() }
            let context = try TemporaryDirectory("img-progress-context")
            defer { context.remove() }
            // The RUN needs the base's layer on disk, so it is downloaded.
            try Data("FROM \(proxy.host)/test/progress:v1\nRUN [\"/bin/busybox\", \"touch\", \"/built\"]\n".utf8)
                .write(to: URL(filePath: context.file("Dockerfile")))
            let layer = "sha256:" + image.layer.descriptor.digest.hex.prefix(12), size = Self.mb(image.layer.descriptor.size)
            let target = "\(registry.host)/test/progress-built:v1"
            let build = try img(["build", "--progress", "plain", "-o", "type=image,name=\(target),push=true", context.path])
            #expect(build.status == 0, "\(build.err)")
            let lines = build.err.split(separator: "\n").map(String.init)
            #expect(lines.contains("downloading \(layer) 0B / \(size)"), "\(build.err)")
            #expect(lines.contains { $0.hasPrefix("downloading \(layer) \(size) / \(size) ") && $0.hasSuffix("s done") }, "\(build.err)")
            // The push uploads the RUN's layer (the base's is mounted or there already).
            #expect(lines.contains { $0.hasPrefix("pushing sha256:") && $0.hasSuffix("s done") }, "\(build.err)")

            // On a terminal the same lines are part of the redrawn view.
            let again = try Img()
            defer { again.remove() }
            let tty = try Self.onTerminal(again, ["build", "--progress", "tty", "-t", "again", context.path])
            #expect(tty.status == 0, "\(tty.out)")
            #expect(tty.out.contains(" => => downloading \(layer) "), "\(tty.out)")
            #expect(tty.out.contains("\(size) / \(size)"), "\(tty.out)")
        }
    }
}

/// The registry client's meter: the byte loops call it for every chunk, the observer hears at most every
/// `TransferMeter.interval`.
@Suite struct TransferMeterTests {
    final class Recorder: TransferObserver {
        let events = Mutex([String]())
        func transferStarted(_ blob: Descriptor, _ direction: TransferDirection, done: Int64) { events.withLock { $0.append("start \(done)") } }
        func transferProgress(_ blob: Descriptor, _ direction: TransferDirection, done: Int64) { events.withLock { $0.append("\(done)") } }
        func transferFinished(_ blob: Descriptor, _ direction: TransferDirection) { events.withLock { $0.append("end") } }
    }

    @Test func updatesAreThrottled() async throws {
        let recorder = Recorder()
        let blob = Descriptor(mediaType: .ociLayerGzip, digest: .sha256(of: [1]), size: 1 << 30)
        var meter = try #require(TransferMeter(blob, .download, done: 5, observer: recorder))
        for done in 1...10_000 { meter.advance(to: Int64(done)) }
        try await Task.sleep(for: .milliseconds(150))
        meter.advance(to: 20_000)
        meter.finish()
        #expect(recorder.events.withLock { $0 } == ["start 5", "20000", "end"])
        // No observer, no meter: the loops then do nothing per chunk.
        #expect(TransferMeter(blob, .download) == nil)
    }
}
