import ImgContent
import ImgOCI

/// Where blobs came from, so a push can mount them from another repository of the same registry.
/// Only a hint: failing to record or read it never fails a pull or a push.
extension StateDirectory {
    /// After pulling an image from `reference`: its config and layers are in that repository.
    func rememberSources(_ blobs: [Descriptor], at reference: Reference, log: CommandLog? = nil) async {
        do {
            try await sources.record(blobs.map(\.digest), registry: reference.domain, repository: reference.path)
        } catch {
            log?.debug("could not note where the blobs of \(reference.familiar) came from: \(error)")
        }
    }

    /// After pushing the image `root` to `reference`: everything it reaches is in that repository.
    func rememberPushed(_ root: Descriptor, to reference: Reference, log: CommandLog? = nil) async {
        do {
            let digests = try content.closure(of: [root]).digests
            try await sources.record(digests, registry: reference.domain, repository: reference.path)
        } catch {
            log?.debug("could not note that \(reference.familiar) holds its blobs: \(error)")
        }
    }

    /// For `pushImage`: the repositories of the target's registry known to hold a blob.
    func mountSources(for target: Reference) -> @Sendable (Digest) async -> [Reference] {
        let sources = self.sources
        return { digest in
            let paths = (try? await sources.repositories(holding: digest, registry: target.domain)) ?? []
            return paths.map { Reference(domain: target.domain, path: $0) }
        }
    }
}
