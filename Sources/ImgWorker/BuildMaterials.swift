package import ImgOCI
import Synchronization

/// What a build took from outside its context, as it resolved it: base and `--from` images by manifest
/// digest, git sources by commit, downloads by checksum. Provenance lists them as its resolved dependencies.
package struct BuildMaterial: Sendable, Hashable {
    package enum Kind: String, Sendable, Hashable { case image, git, http }

    package var kind: Kind
    /// A package URL for an image (`pkg:docker/NAME@TAG?platform=...`), the remote and ref for git (never its
    /// credentials), the URL for a download.
    package var uri: String
    /// `sha256` for images and downloads, `sha1` for a git commit.
    package var digest: [String: String]

    package init(kind: Kind, uri: String, digest: [String: String]) {
        self.kind = kind
        self.uri = uri
        self.digest = digest
    }

    /// An image as it was named in the Dockerfile (or a `--build-context`), resolved to `manifest`.
    package static func image(_ name: String, platform: Platform, manifest: Digest) -> BuildMaterial {
        let platformText = platform.description.replacingOccurrences(of: "/", with: "%2F")
        let uri: String
        if let reference = try? Reference(parsing: name) {
            let version = reference.tag ?? (reference.digest == nil ? "latest" : nil)
            uri = "pkg:docker/\(reference.familiarName)" + (version.map { "@\($0)" } ?? "") + "?platform=\(platformText)"
        } else {
            uri = name
        }
        return BuildMaterial(kind: .image, uri: uri, digest: [manifest.algorithm.rawValue: manifest.hex])
    }
}

/// The materials one platform's build resolved, in the order first seen, each once.
package final class BuildMaterials: Sendable {
    private let entries = Mutex<[BuildMaterial]>([])

    package init() {}

    package func add(_ material: BuildMaterial) {
        entries.withLock { if !$0.contains(material) { $0.append(material) } }
    }

    package var all: [BuildMaterial] { entries.withLock { $0 } }
}
