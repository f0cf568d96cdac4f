// TestImage.swift owns the busybox image the registry tests build themselves, as blobs and as an OCI layout.
package import Foundation
package import ImgOCI
package import ImgRegistry

/// An image the test builds itself: one gzip layer holding Debian's static busybox, a config and a
/// manifest per platform, and an index over them when there is more than one platform.
package struct TestImage: Sendable {
    package struct Blob: Sendable {
        package var descriptor: Descriptor
        package var content: BlobContent
        /// The bytes of an in-memory blob (configs, manifests, the index).
        package var bytes: [UInt8]? {
            if case .bytes(let b) = content { return b }
            return nil
        }
    }

    package let layer: Blob
    package let configs: [Blob]
    package let manifests: [Blob]
    package let index: Blob?
    /// The layer tar.gz on disk.
    package let layerPath: String

    /// What a tag points at: the index if there is one, else the manifest.
    package var root: Descriptor { index?.descriptor ?? manifests[0].descriptor }
    package var all: [Blob] { [layer] + configs + manifests + (index.map { [$0] } ?? []) }

    package func content(_ descriptor: Descriptor) throws -> BlobContent {
        guard let blob = all.first(where: { $0.descriptor.digest == descriptor.digest }) else {
            throw TestFailure("test image has no blob \(descriptor.digest)")
        }
        return blob.content
    }

    /// Builds the image in `dir`. `padding` bytes of random data are added to the layer to make it larger;
    /// `inlineCache` (the JSON of a records array) goes into each config as an inline build cache.
    package static func make(in dir: TemporaryDirectory, platforms: [Platform] = [Platform(os: "linux", architecture: "amd64")],
                     padding: Int = 0, mediaTypes docker: Bool = false, inlineCache: Data? = nil) throws -> TestImage {
        let root = dir.file("rootfs")
        try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: root + "/bin/busybox") {
            try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: root + "/bin/busybox")
        }
        if padding > 0 {
            var bytes = [UInt8](repeating: 0, count: padding)
            for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
            try Data(bytes).write(to: URL(fileURLWithPath: root + "/padding"))
        }
        let tar = dir.file("layer.tar"), gz = dir.file("layer.tar.gz")
        try run("tar", ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "-C", root, "-cf", tar, "."])
        try run("sh", ["-c", "gzip -n -c '\(tar)' > '\(gz)'"])
        let layerDescriptor = Descriptor(mediaType: docker ? .dockerLayerGzip : .ociLayerGzip, digest: try sha256(file: gz),
                                         size: try fileSize(gz))
        let diffID = try sha256(file: tar)

        var configs: [Blob] = [], manifests: [Blob] = []
        for platform in platforms {
            var cfg = ContainerConfig()
            cfg.cmd = ["/bin/busybox", "sh"]
            cfg.env = ["PATH=/bin"]
            let config = ImageConfig(platform: platform, config: cfg, rootfs: RootFS(diffIDs: [diffID]),
                                     created: "2026-01-01T00:00:00Z")
            let configBytes = try encode(InlineCachedConfig(config, cache: inlineCache))
            let configDescriptor = Descriptor(mediaType: docker ? .dockerConfig : .ociConfig,
                                              digest: .sha256(of: configBytes), size: Int64(configBytes.count))
            configs.append(Blob(descriptor: configDescriptor, content: .bytes(configBytes)))
            let manifest = Manifest(mediaType: docker ? .dockerManifest : .ociManifest, config: configDescriptor,
                                    layers: [layerDescriptor])
            let manifestBytes = try encode(manifest)
            var d = Descriptor(mediaType: manifest.mediaType!, digest: .sha256(of: manifestBytes), size: Int64(manifestBytes.count))
            if platforms.count > 1 { d.platform = platform }
            manifests.append(Blob(descriptor: d, content: .bytes(manifestBytes)))
        }
        var index: Blob?
        if platforms.count > 1 {
            let idx = Index(mediaType: docker ? .dockerManifestList : .ociIndex, manifests: manifests.map(\.descriptor))
            let bytes = try encode(idx)
            index = Blob(descriptor: Descriptor(mediaType: idx.mediaType!, digest: .sha256(of: bytes), size: Int64(bytes.count)),
                         content: .bytes(bytes))
        }
        return TestImage(layer: Blob(descriptor: layerDescriptor, content: .file(path: gz)), configs: configs,
                         manifests: manifests, index: index, layerPath: gz)
    }

    /// Writes the image as an OCI layout (for `skopeo copy oci:…`), tagged `tag`.
    package func writeLayout(to path: String, tag: String) throws {
        let blobs = path + "/blobs/sha256"
        try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
        for blob in all {
            let target = blobs + "/" + blob.descriptor.digest.hex
            if FileManager.default.fileExists(atPath: target) { continue }
            switch blob.content {
            case .bytes(let b): try Data(b).write(to: URL(fileURLWithPath: target))
            case .file(let p): try FileManager.default.copyItem(atPath: p, toPath: target)
            }
        }
        try #"{"imageLayoutVersion":"1.0.0"}"#.write(toFile: path + "/oci-layout", atomically: true, encoding: .utf8)
        var rootDescriptor = root
        rootDescriptor.annotations = ["org.opencontainers.image.ref.name": tag]
        let layoutIndex = Index(manifests: [rootDescriptor])
        try Data(try encode(layoutIndex)).write(to: URL(fileURLWithPath: path + "/index.json"))
    }
}

package func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return Array(try encoder.encode(value))
}

package func sha256(file path: String) throws -> Digest {
    guard let handle = FileHandle(forReadingAtPath: path) else { throw TestFailure("cannot open \(path)") }
    defer { try? handle.close() }
    var hasher = DigestHasher()
    while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(chunk) }
    return hasher.finalize()
}

package func fileSize(_ path: String) throws -> Int64 {
    (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
}
