import Foundation
import ImgTestSupport
@testable import ImgContent
import ImgOCI
import Testing

@Suite struct OCILayoutTests {
    let tmp = TempDirectory()

    func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }

    @Test func writeThenReadRoundTrip() async throws {
        let source = try StateDirectory(root: tmp.path + "/source")
        let amd64 = try await makeImage(source.content, seed: "amd64")
        let arm64 = try await makeImage(source.content, seed: "arm64", platform: Platform(os: "linux", architecture: "arm64"))
        let index = try await makeIndex(source.content, [amd64.manifest, arm64.manifest])
        let single = try await makeImage(source.content, seed: "single")
        let layoutDir = tmp.path + "/layout"
        try OCILayout.write([
            OCILayout.Image(descriptor: index, name: reference("example.com/multi:1.0")),
            OCILayout.Image(descriptor: single.manifest, name: reference("single")),
        ], to: layoutDir, from: source.content)

        // The spec's shape.
        let layoutFile = try json(layoutDir + "/oci-layout")
        #expect(layoutFile.count == 1)
        #expect(layoutFile["imageLayoutVersion"] as? String == "1.0.0")
        let indexJSON = try json(layoutDir + "/index.json")
        #expect(indexJSON["schemaVersion"] as? Int == 2)
        #expect(indexJSON["mediaType"] as? String == MediaType.ociIndex.rawValue)
        let entries = try #require(indexJSON["manifests"] as? [[String: Any]])
        #expect(entries.map { $0["digest"] as? String } == [index.digest.description, single.manifest.digest.description])
        #expect(entries.map { $0["mediaType"] as? String } == [MediaType.ociIndex.rawValue, MediaType.ociManifest.rawValue])
        #expect(entries.map { ($0["annotations"] as? [String: String])?[OCILayout.refNameAnnotation] } == ["1.0", "latest"])
        #expect(entries.map { ($0["annotations"] as? [String: String])?[OCILayout.imageNameAnnotation] }
                == ["example.com/multi:1.0", "docker.io/library/single:latest"])
        let blobNames = try FileManager.default.contentsOfDirectory(atPath: layoutDir + "/blobs/sha256")
        let expected = Set(([index] + amd64.all + arm64.all + single.all).map(\.digest.hex))
        #expect(Set(blobNames) == expected)

        let target = try StateDirectory(root: tmp.path + "/target")
        let images = try await OCILayout.read(from: layoutDir, into: target.content)
        #expect(images.map(\.name) == [reference("example.com/multi:1.0"), reference("docker.io/library/single:latest")])
        #expect(images.map(\.descriptor) == [index, single.manifest])
        #expect(images.map(\.refName) == ["1.0", "latest"])
        #expect(Set(try target.content.list().map(\.digest.hex)) == expected)
        for blob in try target.content.list() { try target.content.verify(blob.digest) }
    }

    @Test func indexWithUnpulledPlatformsIsWrittenWithoutThem() async throws {
        let source = try tmp.state()
        let amd64 = try await makeImage(source.content, seed: "amd64")
        let absent = descriptor(of: bytes("arm64 manifest never pulled"), .ociManifest)
        let index = try await makeIndex(source.content, [amd64.manifest, absent])
        let layoutDir = tmp.path + "/layout"
        try OCILayout.write([OCILayout.Image(descriptor: index, name: nil)], to: layoutDir, from: source.content)
        let target = try StateDirectory(root: tmp.path + "/target")
        _ = try await OCILayout.read(from: layoutDir, into: target.content)
        #expect(Set(try target.content.list().map(\.digest)) == Set(([index] + amd64.all).map(\.digest)))
    }

    @Test func missingLayerIsAnError() async throws {
        let source = try tmp.state()
        let image = try await makeImage(source.content, seed: "incomplete")
        try source.content.delete(image.layers[0].digest)
        let error = await expectContentError(.blobNotFound) {
            try OCILayout.write([OCILayout.Image(descriptor: image.manifest, name: reference("x"))],
                                to: tmp.path + "/layout", from: source.content)
        }
        #expect(error?.description.contains(image.layers[0].digest.description) == true)
    }

    @Test func corruptLayoutBlobIsRejectedAndNotStored() async throws {
        let source = try tmp.state()
        let image = try await makeImage(source.content, seed: "to corrupt")
        let layoutDir = tmp.path + "/layout"
        try OCILayout.write([OCILayout.Image(descriptor: image.manifest, name: reference("x"))], to: layoutDir, from: source.content)
        let layer = image.layers[1]
        let path = layoutDir + "/blobs/sha256/" + layer.digest.hex
        var tampered = try Data(contentsOf: URL(fileURLWithPath: path))
        tampered[0] ^= 0xff
        try tampered.write(to: URL(fileURLWithPath: path))

        let target = try StateDirectory(root: tmp.path + "/target")
        await expectContentError(.digestMismatch) { _ = try await OCILayout.read(from: layoutDir, into: target.content) }
        #expect(!target.content.exists(layer.digest))
        #expect(ingestFiles(target).isEmpty)
    }

    @Test(arguments: [
        ("oci-layout", #"{"imageLayoutVersion":"2.0.0"}"#),
        ("oci-layout", "not json"),
        ("index.json", #"{"schemaVersion":2}"#),
    ])
    func invalidLayoutFiles(file: String, text: String) async throws {
        let source = try tmp.state()
        let image = try await makeImage(source.content, seed: "fine")
        let layoutDir = tmp.path + "/layout"
        try OCILayout.write([OCILayout.Image(descriptor: image.manifest, name: nil)], to: layoutDir, from: source.content)
        try Data(text.utf8).write(to: URL(fileURLWithPath: layoutDir + "/" + file))
        let target = try StateDirectory(root: tmp.path + "/target")
        let error = await expectContentError(.invalidLayout) { _ = try await OCILayout.read(from: layoutDir, into: target.content) }
        #expect(error?.message.contains(file) == true)
    }
}
