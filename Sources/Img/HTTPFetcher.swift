import AsyncHTTPClient
package import Foundation
package import ImgWorker
import NIOCore
import NIOHTTP1

/// `ADD https://...`: a plain HTTP(S) GET through AsyncHTTPClient, following redirects, streamed to a file.
/// TLS uses the system trust store; the Last-Modified header becomes the file's mtime, as docker does.
package struct HTTPFetcher: RemoteFetcher {
    package init() {}

    package func fetch(_ url: URL, to path: String) async throws -> FetchedFile {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .follow(max: 10, allowCycles: false)
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        do {
            let result = try await download(url, to: path, client: client)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func download(_ url: URL, to path: String, client: HTTPClient) async throws -> FetchedFile {
        let request = HTTPClientRequest(url: url.absoluteString)
        let response = try await client.execute(request, timeout: .seconds(600))
        guard response.status == .ok else {
            throw RequestError("GET \(url.absoluteString): \(response.status.code) \(response.status.reasonPhrase)")
        }
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw RequestError("cannot create \(path)")
        }
        defer { try? handle.close() }
        for try await buffer in response.body {
            try handle.write(contentsOf: Data(buffer.readableBytesView))
        }
        let modified = response.headers.first(name: "Last-Modified").flatMap(Self.httpDate)
        return FetchedFile(name: url.lastPathComponent, modified: modified)
    }

    private static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }
}
