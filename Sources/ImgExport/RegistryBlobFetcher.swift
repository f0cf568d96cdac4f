package import ImgContent
package import ImgOCI
package import ImgRegistry
import Synchronization

/// The `BlobFetcher` of a command: a blob the store lacks is downloaded from the repositories
/// `BlobSourceStore` knows hold it (most recent first), with the pull code (mirrors, retries, resumable,
/// verified against its descriptor). Clients are made on first use, one per `insecure` setting, and shut down
/// by `shutdown()`. Counts what it downloaded, for the build's summary.
package final class RegistryBlobFetcher: BlobFetcher {
    package typealias MakeClient = @Sendable (_ insecureHosts: [String]) throws -> RegistryClient

    let state: StateDirectory
    let makeClient: MakeClient
    let onFetched: @Sendable (Descriptor, BlobLocation, Int64) -> Void
    private let clients = Mutex<[String: RegistryClient]>([:])
    private let counts = Mutex<Fetched>(Fetched())

    /// What was downloaded.
    package struct Fetched: Sendable, Hashable {
        package var blobs = 0
        package var bytes: Int64 = 0
    }

    package var fetched: Fetched { counts.withLock { $0 } }

    package init(state: StateDirectory, makeClient: @escaping MakeClient,
                 onFetched: @escaping @Sendable (Descriptor, BlobLocation, Int64) -> Void = { _, _, _ in }) {
        self.state = state
        self.makeClient = makeClient
        self.onFetched = onFetched
    }

    package func fetchMissing(_ descriptors: [Descriptor]) async throws {
        var seen: Set<Digest> = []
        for descriptor in descriptors where seen.insert(descriptor.digest).inserted && !state.content.exists(descriptor.digest) {
            try await fetch(descriptor)
        }
    }

    private func fetch(_ descriptor: Descriptor) async throws {
        let locations = try await state.sources.locations(of: descriptor.digest)
        guard !locations.isEmpty else {
            throw ExportError(.missingBlob, "blob \(descriptor.digest) is not in the store and no registry is known to hold it")
        }
        var failures: [String] = []
        for location in locations {
            let reference = Reference(domain: location.registry, path: location.repository)
            do {
                let client = try client(insecure: location.insecure ? location.registry : nil)
                let bytes = try await RegistryCacheStore(reference: reference, client: client).ingest(descriptor, into: state)
                guard bytes > 0 else { return }
                counts.withLock {
                    $0.blobs += 1
                    $0.bytes += bytes
                }
                onFetched(descriptor, location, bytes)
                return
            } catch {
                failures.append("\(reference.familiar): \(error)")
            }
        }
        throw ExportError(.missingBlob, "cannot fetch blob \(descriptor.digest), which this store left in the registry: \(failures.joined(separator: "; "))")
    }

    private func client(insecure host: String?) throws -> RegistryClient {
        let key = host ?? ""
        if let made = clients.withLock({ $0[key] }) { return made }
        let made = try makeClient(host.map { [$0] } ?? [])
        let (kept, extra) = clients.withLock { clients -> (RegistryClient, RegistryClient?) in
            if let other = clients[key] { return (other, made) }
            clients[key] = made
            return (made, nil)
        }
        if let extra { Task { try? await extra.shutdown() } }
        return kept
    }

    /// Shuts down the clients this fetcher made.
    package func shutdown() async {
        let made = clients.withLock { clients in
            defer { clients = [:] }
            return Array(clients.values)
        }
        for client in made { try? await client.shutdown() }
    }
}

extension ContentStore {
    /// The blobs `roots` need (manifests' configs and layers, indexes' roots) that are not stored, fetched
    /// with `fetcher`: what an export must do before reading an image that names lazily imported layers.
    package func fetchMissing(of roots: [Descriptor], with fetcher: (any BlobFetcher)?) async throws {
        let missing = try closure(of: roots).missingRequired
        guard !missing.isEmpty else { return }
        guard let fetcher else {
            throw ExportError(.missingBlob, "blob \(missing[0].digest) is not in the store")
        }
        try await fetcher.fetchMissing(missing)
        // A fetched manifest can name more blobs.
        let still = try closure(of: roots).missingRequired
        if !still.isEmpty { try await fetcher.fetchMissing(still) }
    }
}
