import Foundation
package import ImgOCI
import ImgContent
import ImgSystem

/// A build cache in a directory (`--cache-to type=local,dest=DIR`, `--cache-from type=local,src=DIR`): an
/// OCI image layout whose `index.json` names, under the tag (`org.opencontainers.image.ref.name`), one image
/// manifest. Its config is the cache config (`application/vnd.buildkit.cacheconfig.v0`); its layers are the
/// cached layer blobs (each annotated with its diffID as `containerd.io/uncompressed`) and the image config
/// of each record.
package struct LocalCache: Sendable {
    package static let defaultTag = "latest"

    package var directory: String
    package var tag: String
    package var manifest: Manifest
    package var config: CacheConfig

    /// Reads the cache's index, manifest and config (nothing else), verifying each blob's digest; throws a
    /// one-line `ExportError` when the cache is missing, unreadable, corrupt or of another key version.
    package static func read(directory: String, tag: String) throws -> LocalCache {
        func fail(_ message: String) -> ExportError { ExportError(.invalidCache, message) }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw fail("no cache at \(directory)")
        }
        let indexData = try file("index.json", in: directory)
        guard let index = try? JSONDecoder().decode(Index.self, from: indexData) else {
            throw fail("\(directory)/index.json is not an OCI index")
        }
        guard let entry = index.manifests.last(where: { $0.annotations?[OCILayout.refNameAnnotation] == tag }) else {
            throw fail("no cache tagged \"\(tag)\" in \(directory)")
        }
        let manifestData = try blob(entry, in: directory)
        guard let manifest = try? JSONDecoder().decode(Manifest.self, from: manifestData) else {
            throw fail("the cache manifest \(entry.digest) is not an image manifest")
        }
        guard manifest.config.mediaType == CacheConfig.mediaType else {
            throw fail("the manifest tagged \"\(tag)\" is not a build cache (its config is \(manifest.config.mediaType))")
        }
        let config = try CacheImporter.cacheConfig(try blob(manifest.config, in: directory), digest: manifest.config.digest)
        return LocalCache(directory: directory, tag: tag, manifest: manifest, config: config)
    }

    /// The path of blob `digest` in the layout: a regular file reached through no symlink.
    package static func blobPath(_ digest: Digest, in directory: String) throws -> String {
        do { return try TreeMember.regularFile("blobs/\(digest.algorithm.rawValue)/\(digest.hex)", in: directory) } catch {
            throw ExportError(.invalidCache, "blob \(digest) is missing from \(directory)")
        }
    }

    /// A small blob's bytes (a manifest, a config), checked against its descriptor.
    static func blob(_ descriptor: Descriptor, in directory: String) throws -> Data {
        let data = try file("blobs/\(descriptor.digest.algorithm.rawValue)/\(descriptor.digest.hex)", in: directory)
        let actual = Digest.sha256(of: data)
        guard actual == descriptor.digest, Int64(data.count) == descriptor.size else {
            throw ExportError(.invalidCache, "blob \(descriptor.digest) in \(directory) is corrupt (its digest is \(actual))")
        }
        return data
    }

    private static func file(_ relative: String, in directory: String) throws -> Data {
        let path: String
        do { path = try TreeMember.regularFile(relative, in: directory) } catch {
            throw ExportError(.invalidCache, "\(directory)/\(relative) is missing")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ExportError(.invalidCache, "cannot read \(path)")
        }
        return data
    }
}
