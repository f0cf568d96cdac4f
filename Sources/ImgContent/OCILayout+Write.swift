import Foundation
import ImgOCI
import Glibc
import ImgSystem

extension OCILayout {
    /// Writes `images` and every stored blob they reach to `directory` (created if needed). Blobs already
    /// there with the right size are kept. Manifests of an index that are not stored (other platforms)
    /// are left out, as a single-platform pull leaves them; any other missing blob is an error. An image
    /// without a name but with a `refName` is written under that ref name alone. With `keepingOtherEntries`,
    /// the entries of an `index.json` already there whose ref name none of `images` takes are kept (a cache
    /// directory holding several tags). `index.json` is written last and atomically, so a reader sees the
    /// old layout or the new one, never a mix. With `verifyingExisting`, a blob already there is kept only
    /// if its digest matches (a directory written again and again, such as a cache, heals a corrupt blob).
    package static func write(_ images: [Image], to directory: String, from content: ContentStore,
                              keepingOtherEntries: Bool = false, verifyingExisting: Bool = false) throws(ContentError) {
        var blobs: [Descriptor] = []
        var seen: Set<Digest> = []
        for image in images {
            let closure = try content.closure(of: [image.descriptor])
            if let missing = closure.missingRequired.first {
                throw ContentError(.blobNotFound, "blob \(missing.digest) of \(image.name?.description ?? "image \(image.descriptor.digest)") not found")
            }
            for blob in closure.present where seen.insert(blob.digest).inserted { blobs.append(blob) }
        }
        do {
            for algorithm in Set(blobs.map(\.digest.algorithm)) {
                try FileSystem.createDirectory(path: "\(directory)/blobs/\(algorithm.rawValue)")
            }
        } catch { throw ContentError.io("create OCI layout \(directory)", error) }
        for blob in blobs { try copy(blob.digest, to: directory, from: content, verifyingExisting: verifyingExisting) }

        var entries: [Descriptor] = []
        for image in images {
            var entry = image.descriptor
            if let name = image.name?.withDefaultTag {
                var annotations = entry.annotations ?? [:]
                annotations[imageNameAnnotation] = name.description
                annotations[refNameAnnotation] = name.tag ?? name.description
                entry.annotations = annotations
            } else if let refName = image.refName {
                var annotations = entry.annotations ?? [:]
                annotations[refNameAnnotation] = refName
                entry.annotations = annotations
            }
            entries.append(entry)
        }
        if keepingOtherEntries,
           let data = try? Data(contentsOf: URL(fileURLWithPath: "\(directory)/index.json")),
           let existing = try? JSONDecoder().decode(Index.self, from: data) {
            let taken = Set(entries.compactMap { $0.annotations?[refNameAnnotation] })
            let kept = existing.manifests.filter { entry in
                guard let name = entry.annotations?[refNameAnnotation] else { return false }
                return !taken.contains(name)
            }
            entries = kept + entries
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            try writeFile(Data(try encoder.encode(Index(mediaType: .ociIndex, manifests: entries))), to: "\(directory)/index.json")
            try writeFile(Data(try encoder.encode(LayoutFile(imageLayoutVersion: version))), to: "\(directory)/oci-layout")
        } catch let error as ContentError {
            throw error
        } catch {
            throw ContentError(.invalidDocument, "encode index.json for \(directory)", cause: "\(error)")
        }
    }

    /// Copies one blob, re-hashing it on the way so a corrupt store never yields a corrupt layout.
    private static func copy(_ digest: Digest, to directory: String, from content: ContentStore,
                             verifyingExisting: Bool) throws(ContentError) {
        let target = blobPath(directory, digest)
        let reader = try content.open(digest)
        if let existing = try? FileSystem.status(path: target), existing.isRegularFile, existing.size == reader.size,
           !verifyingExisting || fileDigest(target) == digest {
            return
        }
        let temp = "\(directory)/blobs/\(digest.algorithm.rawValue)/.tmp-\(randomName())"
        func io(_ body: () throws(SystemError) -> Void) throws(ContentError) {
            do throws(SystemError) { try body() } catch { throw ContentError.io("copy blob \(digest) to \(directory)", error) }
        }
        do throws(ContentError) {
            var out: SystemFile?
            try io { () throws(SystemError) in out = try SystemFile(path: temp, flags: O_WRONLY | O_CREAT | O_EXCL, permissions: 0o644) }
            var hasher = DigestHasher()
            try reader.forEachChunk { (chunk) throws(ContentError) in
                hasher.update(chunk)
                try io { () throws(SystemError) in try out!.write(chunk) }
            }
            let actual = hasher.finalize()
            guard actual == digest else { throw ContentError.digestMismatch(expected: digest, actual: actual) }
            try io { () throws(SystemError) in
                try out!.sync()
                try FileSystem.rename(temp, to: target)
            }
        } catch {
            _ = try? FileSystem.removeFile(path: temp)
            throw error
        }
    }

    /// The sha256 of the file at `path`, nil when it cannot be read.
    private static func fileDigest(_ path: String) -> Digest? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var hasher = DigestHasher()
        while true {
            guard let chunk = try? handle.read(upToCount: 1 << 20) else { return nil }
            if chunk.isEmpty { break }
            hasher.update(chunk)
        }
        return hasher.finalize()
    }

    /// Replaces `path` atomically with `data`.
    private static func writeFile(_ data: Data, to path: String) throws(ContentError) {
        let temp = path + ".tmp-" + randomName()
        do throws(SystemError) {
            let file = try SystemFile(path: temp, flags: O_WRONLY | O_CREAT | O_EXCL, permissions: 0o644)
            var failure: SystemError?
            data.withUnsafeBytes { buffer in
                do throws(SystemError) { try file.write(buffer) } catch { failure = error }
            }
            if let failure { throw failure }
            try file.sync()
            try FileSystem.rename(temp, to: path)
        } catch {
            _ = try? FileSystem.removeFile(path: temp)
            throw ContentError.io("write \(path)", error)
        }
    }
}
