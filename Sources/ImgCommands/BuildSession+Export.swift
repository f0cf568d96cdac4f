import Foundation
import ImgContent
import ImgOCI
import ImgRegistry
import ImgSystem
import ImgWorker

extension BuildSession {
    /// Writes the build result to every requested output.
    func export(_ result: BuildState, outputs: [BuildOutput], worker: BuildWorker, state: StateDirectory,
                work: WorkDirectory, progress: any BuildProgress) async throws {
        let final = finalized(result, worker: worker)
        for (number, output) in outputs.enumerated() {
            var final = final
            if output.forceCompression, output.kind == .image || output.kind == .oci || output.kind == .docker {
                final = try await worker.recompressed(final, compression: output.compression ?? .gzip, level: output.compressionLevel)
            }
            switch output.kind {
            case .image:
                let types: ImageMediaTypes = output.ociMediaTypes == true ? .oci : .docker
                let (manifest, _) = try await worker.storeImage(final, mediaTypes: types)
                progress.message("writing image \(manifest.digest)")
                try await name(manifest, output: output, state: state, progress: progress)
            case .oci, .docker:
                let types: ImageMediaTypes = output.kind == .oci && output.ociMediaTypes != false ? .oci : .docker
                let (descriptor, _) = try await worker.storeImage(final, mediaTypes: types)
                let names = try (output.names + command.tags).map { try parseReference($0).withDefaultTag }
                let tree = work.file("archive-\(number)")
                try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: false)
                if output.kind == .oci {
                    try ImageArchive.writeOCI([OCILayout.Image(descriptor: descriptor, name: names.first)], state: state, into: tree)
                } else {
                    let manifest = try JSONDecoder().decode(Manifest.self, from: state.content.data(for: descriptor.digest))
                    try ImageArchive.writeDocker([.init(manifest: manifest, names: names)], state: state, into: tree)
                }
                try ImageArchive.tar(tree, to: output.destination)
                progress.message("exported \(output.kind.rawValue) archive to \(output.destination ?? "stdout")")
            case .tar:
                try await worker.withFilesystem(of: final) { rootfs in
                    try ImageArchive.tar(rootfs, to: output.destination, sourceDateEpoch: worker.options.sourceDateEpoch)
                }
                progress.message("exported rootfs tar to \(output.destination ?? "stdout")")
            case .local:
                let destination = output.destination!
                try await copyFilesystem(of: final, worker: worker, into: destination)
                progress.message("exported files to \(destination)")
            }
        }
    }

    /// type=image: `root` (a manifest or an index) under each of the output's names, pushed with push=true.
    private func name(_ root: Descriptor, output: BuildOutput, state: StateDirectory, progress: any BuildProgress) async throws {
        for name in output.names {
            let reference = try parseReference(name).withDefaultTag
            _ = try await state.images.put(reference, descriptor: root)
            progress.message("naming to \(reference.familiar)")
            guard output.push else { continue }
            progress.message("pushing \(reference.familiar)")
            let digest = try await RegistryAccess.with(try RegistryAccess.client()) { client in
                try await state.push(root, to: reference, with: client, log: log)
            }
            progress.message("pushed \(reference.familiar)@\(digest)")
        }
    }

    /// type=local: `result`'s files copied into `directory` (created if missing; 0700 when img made it as
    /// root), owners and modes kept.
    private func copyFilesystem(of result: BuildState, worker: BuildWorker, into directory: String) async throws {
        let destination = try RootfsDestination.prepare(directory, log: log)
        try await copyFilesystem(of: result, worker: worker, into: destination)
    }

    private func copyFilesystem(of result: BuildState, worker: BuildWorker, into destination: RootfsDestination) async throws {
        try await worker.withFilesystem(of: result) { rootfs in
            let copy = try ChildProcess.collect(executable: "/bin/cp", arguments: ["-a", "--", rootfs + "/.", destination.path])
            guard copy.status.isSuccess else {
                throw CommandError("cannot write \(destination.path): \(copy.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
        }
        try destination.seal()
    }

    static let dockerArchiveHoldsOnePlatform =
        "a docker archive holds one platform: use -o type=oci,dest=FILE for several platforms"

    /// The result as exported: `created` from its last step (an unchanged rebuild is the same image) and the
    /// `--label`s.
    func finalized(_ result: BuildState, worker: BuildWorker) -> BuildState {
        var final = result
        final.config.created = final.config.history?.last?.created ?? worker.now
        if !command.labels.isEmpty {
            var labels = final.container.labels ?? [:]
            for label in command.labels {
                let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
                labels[parts[0]] = parts.count == 2 ? parts[1] : ""
            }
            final.container.labels = labels
        }
        return final
    }

    /// A multi-platform build's outputs: image and oci get an index (a docker manifest list with docker media
    /// types) over one image per platform, as buildx writes them; tar and local get a directory per
    /// platform (`linux_amd64/`); a docker archive holds one platform only, so it is refused.
    func exportPlatforms(_ results: [(BuildState, BuildWorker)], outputs: [BuildOutput], state: StateDirectory,
                         work: WorkDirectory, progress: any BuildProgress) async throws {
        var finals: [(state: BuildState, worker: BuildWorker)] = results.map { (finalized($0.0, worker: $0.1), $0.1) }
        for (number, output) in outputs.enumerated() {
            switch output.kind {
            case .image, .oci:
                let types: ImageMediaTypes = output.kind == .oci
                    ? (output.ociMediaTypes != false ? .oci : .docker)
                    : (output.ociMediaTypes == true ? .oci : .docker)
                var manifests: [Descriptor] = []
                for index in finals.indices {
                    if output.forceCompression {
                        finals[index].state = try await finals[index].worker.recompressed(
                            finals[index].state, compression: output.compression ?? .gzip, level: output.compressionLevel)
                    }
                    var (manifest, _) = try await finals[index].worker.storeImage(finals[index].state, mediaTypes: types)
                    manifest.platform = finals[index].state.config.platform
                    manifests.append(manifest)
                }
                let list = Index(mediaType: types == .oci ? .ociIndex : .dockerManifestList, manifests: manifests)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                let root = try await state.content.ingest(try encoder.encode(list), mediaType: list.mediaType!)
                if output.kind == .image {
                    progress.message("writing image \(root.digest) (\(manifests.count) platforms)")
                    try await name(root, output: output, state: state, progress: progress)
                } else {
                    let names = try (output.names + command.tags).map { try parseReference($0).withDefaultTag }
                    let tree = work.file("archive-\(number)")
                    try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: false)
                    try ImageArchive.writeOCI([OCILayout.Image(descriptor: root, name: names.first)], state: state, into: tree)
                    try ImageArchive.tar(tree, to: output.destination)
                    progress.message("exported oci archive of \(manifests.count) platforms to \(output.destination ?? "stdout")")
                }
            case .docker:
                throw CommandError(Self.dockerArchiveHoldsOnePlatform)   // refused before the build already
            case .tar, .local:
                // Each platform's filesystem under its own directory, then the whole as a tar or in place.
                let root = output.kind == .local ? output.destination! : work.file("rootfs-\(number)")
                if output.kind == .local {
                    try RootfsDestination.prepare(root, log: log).seal()
                } else {
                    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
                }
                for final in finals {
                    let platform = final.state.config.platform
                    let directory = root + "/" + [platform.os, platform.architecture, platform.variant]
                        .compactMap { $0 }.joined(separator: "_")
                    try await copyFilesystem(of: final.state, worker: final.worker, into: directory)
                }
                if output.kind == .tar {
                    try ImageArchive.tar(root, to: output.destination, sourceDateEpoch: finals[0].worker.options.sourceDateEpoch)
                    progress.message("exported rootfs tar of \(finals.count) platforms to \(output.destination ?? "stdout")")
                } else {
                    progress.message("exported files of \(finals.count) platforms to \(root)")
                }
            }
        }
    }
}
