import Foundation
import ImgTestSupport
@testable import ImgContent
import ImgOCI
import ImgSystem
import Testing

/// A fresh `TemporaryDirectory` (removed when the value goes away), made where a suite's stored property
/// cannot throw.
final class TempDirectory: Sendable {
    let directory: TemporaryDirectory
    var path: String { directory.path }

    init() { directory = try! TemporaryDirectory("img-content") }

    /// A state directory under this one; opening it again gives another, independent instance.
    func state() throws -> StateDirectory { try StateDirectory(root: path + "/state") }
}

func bytes(_ text: String) -> Data { Data(text.utf8) }

func descriptor(of data: Data, _ mediaType: MediaType = .ociLayerGzip) -> Descriptor {
    Descriptor(mediaType: mediaType, digest: .sha256(of: data), size: Int64(data.count))
}

func reference(_ text: String) -> Reference { try! Reference(parsing: text) }

/// Deterministic pseudo-random bytes, generated a chunk at a time (xorshift64).
struct ByteGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed | 1 }

    mutating func next(_ count: Int) -> Data {
        var data = Data(count: count)
        data.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for i in words.indices {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                words[i] = state
            }
        }
        return data
    }
}

/// An image written into a content store: config, layers, manifest.
struct ImageFixture {
    var manifest: Descriptor
    var config: Descriptor
    var layers: [Descriptor]
    var all: [Descriptor] { [manifest, config] + layers }
    var totalSize: Int64 { all.reduce(0) { $0 + $1.size } }
}

func makeImage(_ content: ContentStore, seed: String, layers: [Data]? = nil,
               platform: Platform = Platform(os: "linux", architecture: "amd64")) async throws -> ImageFixture {
    let layerData = layers ?? [bytes("layer one of \(seed)"), bytes("layer two of \(seed)")]
    var layerDescriptors: [Descriptor] = []
    for data in layerData { layerDescriptors.append(try await content.ingest(data, mediaType: .ociLayerGzip)) }
    var config = ImageConfig(platform: platform)
    config.author = seed
    let configDescriptor = try await content.ingest(try JSONEncoder().encode(config), mediaType: .ociConfig)
    let manifest = Manifest(config: configDescriptor, layers: layerDescriptors)
    var manifestDescriptor = try await content.ingest(try JSONEncoder().encode(manifest), mediaType: .ociManifest)
    manifestDescriptor.platform = platform
    return ImageFixture(manifest: manifestDescriptor, config: configDescriptor, layers: layerDescriptors)
}

func makeIndex(_ content: ContentStore, _ manifests: [Descriptor]) async throws -> Descriptor {
    try await content.ingest(try JSONEncoder().encode(Index(manifests: manifests)), mediaType: .ociIndex)
}

/// Names in the ingest directory (temp and partial files).
func ingestFiles(_ state: StateDirectory) -> [String] {
    (try? FileSystem.contentsOfDirectory(path: state.layout.ingestDirectory)) ?? []
}

/// Expects `body` to throw a `ContentError` with `code`, and returns it.
@discardableResult
func expectContentError(_ code: ContentError.Code, sourceLocation: SourceLocation = #_sourceLocation,
                        _ body: () async throws -> Void) async -> ContentError? {
    do {
        try await body()
        Issue.record("expected ContentError \(code.rawValue), got no error", sourceLocation: sourceLocation)
    } catch let error as ContentError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected ContentError \(code.rawValue), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Another process (`flock(1)` running a short shell script) holding a lock on `path`: it touches a
/// marker once locked, sleeps, touches a second marker, then exits and so releases the lock.
final class ExternalLockHolder {
    private let process = Process()
    private let lockedMarker: String
    private let doneMarker: String

    init(path: String, exclusive: Bool, in tmp: TempDirectory, seconds: Double = 0.5) throws {
        let id = UUID().uuidString
        lockedMarker = "\(tmp.path)/\(id).locked"
        doneMarker = "\(tmp.path)/\(id).done"
        process.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        process.arguments = [exclusive ? "-x" : "-s", path, "/bin/sh", "-c",
                             "touch \"$0\"; sleep \(seconds); touch \"$1\"", lockedMarker, doneMarker]
        try process.run()
    }

    /// Returns once the other process holds the lock.
    func waitUntilLocked() async throws {
        for _ in 0..<1000 {
            if FileManager.default.fileExists(atPath: lockedMarker) { return }
            if !process.isRunning { break }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        Issue.record("flock(1) did not take the lock (exit status \(process.isRunning ? -1 : process.terminationStatus))")
    }

    /// True once the other process is done with its critical section (it releases the lock right after).
    var released: Bool { FileManager.default.fileExists(atPath: doneMarker) }

    func wait() { process.waitUntilExit() }
}
