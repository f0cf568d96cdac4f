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
        var final = result
        // The image is as old as its last step, so an unchanged rebuild is the same image.
        final.config.created = final.config.history?.last?.created ?? worker.now
        if !command.labels.isEmpty {
            var labels = final.container.labels ?? [:]
            for label in command.labels {
                let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
                labels[parts[0]] = parts.count == 2 ? parts[1] : ""
            }
            final.container.labels = labels
        }
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
                for name in output.names {
                    let reference = try parseReference(name).withDefaultTag
                    _ = try await state.images.put(reference, descriptor: manifest)
                    progress.message("naming to \(reference.familiar)")
                    if output.push {
                        progress.message("pushing \(reference.familiar)")
                        let digest = try await RegistryAccess.with(try RegistryAccess.client()) { client in
                            try await client.pushImage(reference, root: manifest,
                                                       mountSources: state.mountSources(for: reference)) { descriptor in
                                .file(path: state.content.path(for: descriptor.digest))
                            }
                        }
                        await state.rememberPushed(manifest, to: reference, log: log)
                        progress.message("pushed \(reference.familiar)@\(digest)")
                    }
                }
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
                try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
                try await worker.withFilesystem(of: final) { rootfs in
                    let copy = try ChildProcess.collect(executable: "/bin/cp", arguments: ["-a", "--", rootfs + "/.", destination])
                    guard copy.status.isSuccess else {
                        throw CommandError("cannot write \(destination): \(copy.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
                    }
                }
                progress.message("exported files to \(destination)")
            }
        }
    }
}
