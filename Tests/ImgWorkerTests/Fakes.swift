import Foundation
import ImgOCI
import ImgWorker
import Synchronization

/// Image resolution without a registry or a store: a fixed set of images with no layers, and a record of
/// what was asked.
final class FakeImages: BaseImageResolver {
    struct Missing: Error, CustomStringConvertible {
        var reference: String
        var description: String { "\(reference): not found (fake)" }
    }

    private let images: Mutex<[String: BaseImage]>
    private let asked = Mutex<[String]>([])

    init(_ configs: [String: ImageConfig] = [:]) {
        images = Mutex(configs.mapValues(Self.image))
    }

    /// A layerless image around `config`, its digests derived from it (a changed config is a moved image).
    static func image(_ config: ImageConfig) -> BaseImage {
        let manifest = Manifest(config: Descriptor(mediaType: .ociConfig, digest: .sha256(of: Array("\(config)".utf8)),
                                                   size: 2), layers: [])
        return BaseImage(manifestDigest: .sha256(of: Array("manifest \(config)".utf8)), manifest: manifest,
                         config: config)
    }

    /// Points `reference` at a new image (a moved tag).
    func replace(_ reference: String, with config: ImageConfig) {
        images.withLock { $0[reference] = Self.image(config) }
    }

    var requests: [String] { asked.withLock { $0 } }

    func resolve(_ reference: String, platform: Platform) async throws -> BaseImage {
        asked.withLock { $0.append("\(reference) \(platform)") }
        guard let image = images.withLock({ $0[reference] }) else { throw Missing(reference: reference) }
        return image
    }
}

/// URL fetching without a server: each URL's body is what the test set.
final class FakeFetcher: RemoteFetcher {
    private let bodies: Mutex<[String: String]>
    private let count = Mutex(0)

    init(_ bodies: [String: String]) { self.bodies = Mutex(bodies) }

    func set(_ url: String, _ body: String) { bodies.withLock { $0[url] = body } }
    var fetches: Int { count.withLock { $0 } }

    func fetch(_ url: URL, to path: String) async throws -> FetchedFile {
        count.withLock { $0 += 1 }
        guard let body = bodies.withLock({ $0[url.absoluteString] }) else { throw URLError(.fileDoesNotExist) }
        try Data(body.utf8).write(to: URL(filePath: path))
        return FetchedFile(name: url.lastPathComponent, modified: Date(timeIntervalSince1970: 1_000_000))
    }
}

/// Progress as a list of events, to see which steps ran, which were cached and what they said.
final class RecordedProgress: BuildProgress {
    enum Event: Equatable {
        case started(String), cached(String), finished(String), failed(String, String), note(String, String)
    }

    private let titles = Mutex<[Int: String]>([:])
    private let recorded = Mutex<[Event]>([])

    var events: [Event] { recorded.withLock { $0 } }
    var cachedTitles: [String] { events.compactMap { if case .cached(let title) = $0 { title } else { nil } } }
    var notes: [String] { events.compactMap { if case .note(_, let text) = $0 { text } else { nil } } }

    private func title(_ vertex: Int) -> String { titles.withLock { $0[vertex] ?? "#\(vertex)" } }

    func started(_ vertex: Int, title: String) {
        titles.withLock { $0[vertex] = title }
        recorded.withLock { $0.append(.started(title)) }
    }
    func cached(_ vertex: Int) { recorded.withLock { $0.append(.cached(title(vertex))) } }
    func output(_ vertex: Int, _ bytes: [UInt8]) {}
    func note(_ vertex: Int, _ text: String) { recorded.withLock { $0.append(.note(title(vertex), text)) } }
    func finished(_ vertex: Int) { recorded.withLock { $0.append(.finished(title(vertex))) } }
    func failed(_ vertex: Int, _ message: String) { recorded.withLock { $0.append(.failed(title(vertex), message)) } }
    func message(_ text: String) {}
}
