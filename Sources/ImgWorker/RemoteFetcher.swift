package import Foundation

/// A file ADD fetched from a URL.
package struct FetchedFile: Sendable {
    /// The name it is copied under: the URL's last path component (docker's rule).
    package var name: String
    package var modified: Date?

    package init(name: String, modified: Date?) {
        self.name = name
        self.modified = modified
    }
}

/// Downloads `ADD https://...` sources. The command layer provides it (it owns the HTTP client).
package protocol RemoteFetcher: Sendable {
    /// Writes the body of `url` to the file `path` (created), following redirects.
    func fetch(_ url: URL, to path: String) async throws -> FetchedFile
}
