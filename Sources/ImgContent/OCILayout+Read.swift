import Foundation
import ImgOCI
import ImgSystem

extension OCILayout {
    /// Reads the layout at `directory` into `content`, verifying every blob's size and digest, and returns
    /// its `index.json` entries (names from `io.containerd.image.name`, else from a ref name that is a full
    /// reference). Recording them as images is the caller's choice; run inside a lease to keep the blobs.
    package static func read(from directory: String, into content: ContentStore,
                             lease: Lease? = Lease.current) async throws(ContentError) -> [Image] {
        let layoutFile: LayoutFile = try decodeFile("oci-layout", in: directory)
        guard layoutFile.imageLayoutVersion == version else {
            throw ContentError(.invalidLayout,
                               "\(directory)/oci-layout: unsupported imageLayoutVersion \"\(layoutFile.imageLayoutVersion)\"")
        }
        let index: Index = try decodeFile("index.json", in: directory)

        var seen: Set<Digest> = []
        var queue: [(Descriptor, fromIndex: Bool)] = index.manifests.reversed().map { ($0, false) }
        while let next = queue.popLast() {
            let (descriptor, fromIndex) = next
            guard seen.insert(descriptor.digest).inserted else { continue }
            // Only a regular file reached through no symlink is a blob: a link to a host file must not be
            // read (its size would show in the error, its content would be imported when the digest matches).
            let path: String
            do {
                path = try TreeMember.regularFile("blobs/\(descriptor.digest.algorithm.rawValue)/\(descriptor.digest.hex)", in: directory)
            } catch {
                if case .missing = error, fromIndex { continue }
                if case .missing = error {
                    throw ContentError(.invalidLayout, "blob \(descriptor.digest) is missing from the OCI layout \(directory)")
                }
                throw ContentError(.invalidLayout, "OCI layout \(directory): \(error)")
            }
            try await content.ingest(fileAt: path, expected: descriptor, lease: lease)
            let isIndex = descriptor.mediaType.isIndex
            for child in try content.children(of: descriptor).reversed() { queue.append((child, isIndex)) }
        }

        return index.manifests.map { (entry) -> Image in
            var descriptor = entry
            let refName = descriptor.annotations?.removeValue(forKey: refNameAnnotation)
            let fullName = descriptor.annotations?.removeValue(forKey: imageNameAnnotation)
            if descriptor.annotations?.isEmpty == true { descriptor.annotations = nil }
            var name = fullName.flatMap { try? Reference(parsing: $0) }
            if name == nil, let refName, refName.contains("/") { name = try? Reference(parsing: refName) }
            return Image(descriptor: descriptor, name: name, refName: refName)
        }
    }

    private static func decodeFile<T: Decodable>(_ name: String, in directory: String) throws(ContentError) -> T {
        let path: String
        do { path = try TreeMember.regularFile(name, in: directory) } catch {
            throw ContentError(.invalidLayout, "OCI layout \(directory): \(error)")
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ContentError(.invalidLayout, "cannot read \(path)", cause: "\(error)")
        }
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw ContentError(.invalidLayout, "invalid \(path)", cause: "\(error)")
        }
    }
}
