import Foundation
import Glibc
import ImgArchive
package import ImgContent
package import ImgOCI
import ImgSystem

/// Image archives as tar files: written by `img save` and `img build -o type=oci|docker|tar`, read by
/// `img load`. The layouts themselves are `OCILayout` and `DockerArchive`.
package enum ImageArchive {
    /// The OCI image layout of `images` in `tree`.
    package static func writeOCI(_ images: [OCILayout.Image], state: StateDirectory, into tree: String) throws {
        try OCILayout.write(images, to: tree, from: state.content)
    }

    /// Tars `tree` to `output` (a regular file is written beside itself and renamed, so a failure never
    /// leaves half an archive there; a device or FIFO is written into) or, when nil, to stdout.
    package static func tar(_ tree: String, to output: String?, sourceDateEpoch: Int64? = 0) throws {
        guard let output else {
            try TreeArchive.create(from: tree, to: FileSink(fileDescriptor: 1, describing: "stdout"), sourceDateEpoch: sourceDateEpoch)
            return
        }
        let file: OutputFile
        do { file = try OutputFile(output) } catch { throw ExportError(.writeFailed, "cannot write \(output): \(error)") }
        do {
            try TreeArchive.create(from: tree, to: FileSink(fileDescriptor: file.descriptor, describing: output),
                                   sourceDateEpoch: sourceDateEpoch)
            try file.commit()
        } catch {
            file.abandon()
            throw error
        }
    }

    /// Loads the docker or OCI archive at `archive` (`label` names it in errors) into the store, unpacking it
    /// in `work` with the same in-root guarantees as a layer; every blob is verified as it enters the store,
    /// and names are recorded only once everything is in: a bad archive records nothing. Returns the names.
    package static func load(_ archive: String, label: String, into state: StateDirectory, work: WorkDirectory) async throws -> [Reference] {
        let tree = try work.newDirectory("archive")
        do { _ = try TreeArchive.extract(from: archive, into: tree) } catch let error as ArchiveError where error.isDiskFull {
            throw error
        } catch {
            throw ExportError(.invalidArchive, "invalid archive \(label): \(error)")
        }
        let fm = FileManager.default
        let loaded: [(Reference, Descriptor)]
        if fm.fileExists(atPath: tree + "/manifest.json") {
            loaded = try await state.content.withLease { _ in try await DockerArchive.read(tree, into: state, label: label) }
        } else if fm.fileExists(atPath: tree + "/index.json") {
            loaded = try await state.content.withLease { _ in
                try await OCILayout.read(from: tree, into: state.content).compactMap { image in
                    image.name.map { ($0, image.descriptor) }
                }
            }
        } else {
            throw ExportError(.invalidArchive, "invalid archive \(label): neither manifest.json (docker) nor index.json (OCI) found")
        }
        guard !loaded.isEmpty else { throw ExportError(.invalidArchive, "archive \(label) names no image to load") }
        try await state.content.withLease { lease in
            for (name, descriptor) in loaded {
                _ = try await state.content.protect(descriptor.digest, lease: lease)
                _ = try await state.images.put(name, descriptor: descriptor)
            }
        }
        return loaded.map(\.0)
    }
}
