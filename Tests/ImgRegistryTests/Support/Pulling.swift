import Foundation
import ImgOCI
import ImgRegistry
import ImgTestSupport

/// Pulls `reference` into `dir/<hex>` files through `FileBlobSink`s and returns what was resolved.
@discardableResult
func pull(_ client: RegistryClient, _ reference: Reference, platform: Platform = Platform(os: "linux", architecture: "amd64"),
          into dir: String) async throws -> ResolvedImage {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return try await client.pullImage(reference, platform: platform) { descriptor in
        let path = dir + "/" + descriptor.digest.hex
        if FileManager.default.fileExists(atPath: path) { return nil }
        return try FileBlobSink(path: path)
    }
}

/// Every file in `dir` hashes to its name.
func verifyContentDirectory(_ dir: String) throws -> Int {
    let names = try FileManager.default.contentsOfDirectory(atPath: dir)
    for name in names {
        guard !name.hasSuffix(".partial") else { throw TestFailure("left-over partial file \(name)") }
        guard try sha256(file: dir + "/" + name).hex == name else { throw TestFailure("\(name) does not match its digest") }
    }
    return names.count
}

/// `skopeo` with its policy check off (the tests have no signatures) and plain-HTTP registries.
@discardableResult
func skopeo(_ arguments: [String]) throws -> String {
    try run("skopeo", ["--insecure-policy"] + arguments)
}
