import Foundation
package import ImgContent
package import ImgOCI
package import ImgRegistry
import ImgSystem

/// One platform's result, as every exporter sees it: it can be stored as an image (with the media types and
/// layer compression an output asks for) and its filesystem can be visited. A single-platform build hands
/// exporters one of these; a multi-platform build one per platform, in order.
package struct ExportedImage: Sendable {
    /// Layers recompressed for an output (`compression=...,force-compression=true`).
    package struct Recompression: Sendable, Hashable {
        package var compression: LayerCompression
        package var level: Int?

        package init(compression: LayerCompression, level: Int?) {
            self.compression = compression
            self.level = level
        }
    }

    package var platform: Platform
    /// Stores the image (config and manifest) in the content store; returns the manifest's descriptor.
    package var store: @Sendable (ImageMediaTypes, Recompression?) async throws -> Descriptor
    /// Runs the body over the image's filesystem, a directory that exists while it runs.
    package var withFilesystem: @Sendable (_ body: @Sendable (String) async throws -> Void) async throws -> Void
    /// The statements to attach to the stored manifest (provenance, SBOM), made once its descriptor is
    /// known; nil: none, and the image is stored as it is.
    package var attestations: (@Sendable (Descriptor) async throws -> [AttestationStatement])?

    package init(platform: Platform,
                 store: @escaping @Sendable (ImageMediaTypes, Recompression?) async throws -> Descriptor,
                 withFilesystem: @escaping @Sendable (_ body: @Sendable (String) async throws -> Void) async throws -> Void,
                 attestations: (@Sendable (Descriptor) async throws -> [AttestationStatement])? = nil) {
        self.platform = platform
        self.store = store
        self.withFilesystem = withFilesystem
        self.attestations = attestations
    }

    /// `linux_arm64_v8`: a platform's directory in a multi-platform tar or local output, as buildx names it.
    package var directoryName: String {
        [platform.os, platform.architecture, platform.variant].compactMap { $0 }.joined(separator: "_")
    }
}

/// What every export runs in: the store, a scratch directory, and where its messages go.
package struct ExportContext: Sendable {
    package var state: StateDirectory
    package var work: WorkDirectory
    /// Progress lines (`writing image sha256:...`, `exported files to DIR`).
    package var report: @Sendable (String) -> Void
    /// Lines for `-d`.
    package var debug: @Sendable (String) -> Void
    /// Fetches the blobs a lazy cache import left in a registry, for exports that read them.
    package var fetcher: (any BlobFetcher)?
    /// `--annotation`s for the index and the descriptors (the manifests' own are in `ExportedImage.store`).
    package var annotations = ImageAnnotations()
    /// Told of each image an output wrote (its root and names), for `--iidfile` and `--metadata-file`.
    package var imageWritten: @Sendable (Descriptor, [Reference]) -> Void = { _, _ in }

    package init(state: StateDirectory, work: WorkDirectory, report: @escaping @Sendable (String) -> Void,
                 debug: @escaping @Sendable (String) -> Void = { _ in }, fetcher: (any BlobFetcher)? = nil) {
        self.state = state
        self.work = work
        self.report = report
        self.debug = debug
        self.fetcher = fetcher
    }
}

/// One output of a build. Each kind of output is one type; all take the same images, one or several.
package protocol Exporter: Sendable {
    func export(_ images: [ExportedImage], in context: ExportContext) async throws
}

extension Exporter {
    /// `images` stored with `types`: the manifest of the only one, or an index over all of them (a docker
    /// manifest list with docker media types), each manifest naming its platform, as buildx writes them.
    ///
    /// With attestations (and `attest`), the image is always an index, with OCI media types as BuildKit forces
    /// them: each platform's manifest, then an attestation manifest for each (docs/provenance.md).
    static func storeRoot(_ images: [ExportedImage], types requested: ImageMediaTypes, recompression: ExportedImage.Recompression?,
                          attest: Bool = true, in context: ExportContext) async throws -> Descriptor {
        let attested = attest && images.contains { $0.attestations != nil }
        let types = attested ? .oci : requested
        if attested && requested != .oci { context.debug("attestations need OCI media types: the image uses them") }
        if images.count == 1 && !attested { return try await images[0].store(types, recompression) }
        var manifests: [Descriptor] = [], attestationManifests: [Descriptor] = []
        for image in images {
            var manifest = try await image.store(types, recompression)
            manifest.platform = image.platform
            manifest.annotations = context.annotations.merged(.manifestDescriptor, platform: image.platform,
                                                              into: manifest.annotations)
            manifests.append(manifest)
            if attest, let attestations = image.attestations {
                let statements = try await attestations(manifest)
                if !statements.isEmpty {
                    attestationManifests.append(try await storeAttestations(statements, about: manifest, in: context))
                }
            }
        }
        manifests += attestationManifests
        let list = Index(mediaType: types == .oci ? .ociIndex : .dockerManifestList, manifests: manifests,
                         annotations: context.annotations.values(.index))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try await context.state.content.ingest(try encoder.encode(list), mediaType: list.mediaType!)
    }

    /// ` of N platforms` for several images, else nothing: the messages say how many went out.
    static func platformsSuffix(_ images: [ExportedImage], _ format: (Int) -> String) -> String {
        images.count == 1 ? "" : format(images.count)
    }
}

/// `type=image`: the image (or the index over the platforms) in img's store under each name, pushed to the
/// registry when asked.
package struct ImageStoreExporter: Exporter {
    package var names: [Reference]
    package var mediaTypes: ImageMediaTypes
    package var recompression: ExportedImage.Recompression?
    /// `push=true`: each name is pushed through this once it is stored.
    package var registry: RegistryExporter?

    package init(names: [Reference], mediaTypes: ImageMediaTypes, recompression: ExportedImage.Recompression? = nil,
                 registry: RegistryExporter? = nil) {
        self.names = names
        self.mediaTypes = mediaTypes
        self.recompression = recompression
        self.registry = registry
    }

    package func export(_ images: [ExportedImage], in context: ExportContext) async throws {
        let root = try await Self.storeRoot(images, types: mediaTypes, recompression: recompression, in: context)
        context.report("writing image \(root.digest)" + Self.platformsSuffix(images) { " (\($0) platforms)" })
        context.imageWritten(root, names)
        for reference in names {
            _ = try await context.state.images.put(reference, descriptor: root)
            context.report("naming to \(reference.familiar)")
            guard let registry else { continue }
            context.report("pushing \(reference.familiar)")
            let digest = try await registry.push(root, to: reference, in: context)
            context.report("pushed \(reference.familiar)@\(digest)")
        }
    }
}

/// Pushes stored images to a registry (`img push`, `-o type=image,push=true`), with a client made for each
/// push and shut down after it.
package struct RegistryExporter: Sendable {
    package var makeClient: @Sendable () throws -> RegistryClient

    package init(makeClient: @escaping @Sendable () throws -> RegistryClient = { try RegistryAccess.client() }) {
        self.makeClient = makeClient
    }

    /// Pushes the stored image (or index) `root` as `reference`; returns the digest the registry holds.
    package func push(_ root: Descriptor, to reference: Reference, in context: ExportContext,
                      onBlob: @escaping @Sendable (Descriptor, BlobPushOutcome) -> Void = { _, _ in }) async throws -> Digest {
        let state = context.state
        return try await RegistryAccess.with(try makeClient()) { client in
            try await state.push(root, to: reference, with: client, fetcher: context.fetcher, onBlob: onBlob, debug: context.debug)
        }
    }
}

/// `type=oci` and `type=docker`: an archive of the image(s), to a file or stdout. A docker archive holds one
/// platform.
package struct ImageArchiveExporter: Exporter {
    package enum Format: String, Sendable, Hashable { case oci, docker }

    package var format: Format
    package var names: [Reference]
    /// nil is stdout.
    package var destination: String?
    package var mediaTypes: ImageMediaTypes
    package var recompression: ExportedImage.Recompression?

    package init(format: Format, names: [Reference], destination: String?, mediaTypes: ImageMediaTypes,
                 recompression: ExportedImage.Recompression? = nil) {
        self.format = format
        self.names = names
        self.destination = destination
        self.mediaTypes = mediaTypes
        self.recompression = recompression
    }

    package static let dockerArchiveHoldsOnePlatform =
        "a docker archive holds one platform: use -o type=oci,dest=FILE for several platforms"

    package func export(_ images: [ExportedImage], in context: ExportContext) async throws {
        if format == .docker && images.count != 1 { throw ExportError(.unsupported, Self.dockerArchiveHoldsOnePlatform) }
        // A docker archive holds images only (docker load knows no attestation), as BuildKit writes it.
        let root = try await Self.storeRoot(images, types: mediaTypes, recompression: recompression,
                                            attest: format == .oci, in: context)
        try await context.state.content.fetchMissing(of: [root], with: context.fetcher)
        context.imageWritten(root, names)
        // The layout's index.json entry: the index's descriptor, or the only manifest's.
        var entry = root
        entry.annotations = root.mediaType.isIndex
            ? context.annotations.merged(.indexDescriptor, into: root.annotations)
            : context.annotations.merged(.manifestDescriptor, platform: images.first?.platform, into: root.annotations)
        let tree = try context.work.newDirectory("archive")
        switch format {
        case .oci:
            try ImageArchive.writeOCI([OCILayout.Image(descriptor: entry, name: names.first)], state: context.state, into: tree)
        case .docker:
            let manifest = try JSONDecoder().decode(Manifest.self, from: context.state.content.data(for: root.digest))
            try DockerArchive.write([.init(manifest: manifest, names: names)], state: context.state, into: tree)
        }
        try ImageArchive.tar(tree, to: destination)
        context.report("exported \(format.rawValue) archive" + Self.platformsSuffix(images) { " of \($0) platforms" }
                       + " to \(destination ?? "stdout")")
    }
}

/// `type=local`: the filesystem copied into a directory (created if missing; 0700 when img made it as root),
/// owners and modes kept; several platforms each in a directory of their own inside it.
package struct LocalDirectoryExporter: Exporter {
    package var destination: String

    package init(destination: String) { self.destination = destination }

    package func export(_ images: [ExportedImage], in context: ExportContext) async throws {
        let root = try RootfsDestination.prepare(destination, debug: context.debug)
        if images.count == 1 {
            try await Self.copy(images[0], into: root)
            context.report("exported files to \(destination)")
            return
        }
        try root.seal()
        for image in images {
            let directory = destination + "/" + image.directoryName
            try await Self.copy(image, into: try RootfsDestination.prepare(directory, debug: context.debug))
        }
        context.report("exported files of \(images.count) platforms to \(destination)")
    }

    static func copy(_ image: ExportedImage, into destination: RootfsDestination) async throws {
        let path = destination.path
        try await image.withFilesystem { rootfs in
            let copy = try ChildProcess.collect(executable: "/bin/cp", arguments: ["-a", "--", rootfs + "/.", path])
            guard copy.status.isSuccess else {
                throw ExportError(.writeFailed, "cannot write \(path): \(copy.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
        }
        try destination.seal()
    }
}

/// `type=tar`: the filesystem as one tar, to a file or stdout; several platforms each under a directory of
/// their own.
package struct RootfsTarExporter: Exporter {
    /// nil is stdout.
    package var destination: String?
    package var sourceDateEpoch: Int64?

    package init(destination: String?, sourceDateEpoch: Int64?) {
        self.destination = destination
        self.sourceDateEpoch = sourceDateEpoch
    }

    package func export(_ images: [ExportedImage], in context: ExportContext) async throws {
        let (destination, epoch) = (self.destination, sourceDateEpoch)
        if images.count == 1 {
            try await images[0].withFilesystem { rootfs in try ImageArchive.tar(rootfs, to: destination, sourceDateEpoch: epoch) }
            context.report("exported rootfs tar to \(destination ?? "stdout")")
            return
        }
        let root = try context.work.newDirectory("rootfs")
        for image in images {
            let directory = root + "/" + image.directoryName
            try await LocalDirectoryExporter.copy(image, into: try RootfsDestination.prepare(directory, debug: context.debug))
        }
        try ImageArchive.tar(root, to: destination, sourceDateEpoch: epoch)
        context.report("exported rootfs tar of \(images.count) platforms to \(destination ?? "stdout")")
    }
}
