// RegistryClient+Pulling.swift owns pulling a test image into plain files and checking those files against their digests.
import Foundation
package import ImgOCI
package import ImgRegistry

extension RegistryClient {
    /// Pulls `reference` into `dir/<hex>` files through `FileBlobSink`s and returns what was resolved.
    @discardableResult
    package func pull(_ reference: Reference, platform: Platform = Platform(os: "linux", architecture: "amd64"),
                      into dir: String) async throws -> ResolvedImage {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return try await pullImage(reference, platform: platform) { descriptor in
            let path = dir + "/" + descriptor.digest.hex
            if FileManager.default.fileExists(atPath: path) { return nil }
            return try FileBlobSink(path: path)
        }
    }
}

/// Every file in `dir` hashes to its name.
package func verifyContentDirectory(_ dir: String) throws -> Int {
    let names = try FileManager.default.contentsOfDirectory(atPath: dir)
    for name in names {
        guard !name.hasSuffix(".partial") else { throw TestFailure("left-over partial file \(name)") }
        guard try sha256(file: dir + "/" + name).hex == name else { throw TestFailure("\(name) does not match its digest") }
    }
    return names.count
}
