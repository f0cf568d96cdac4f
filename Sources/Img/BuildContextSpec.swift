import Foundation
package import ImgDockerfile
import ImgOCI

/// One `--build-context NAME=VALUE`, checked: VALUE is a directory, `docker-image://REF` or
/// `oci-layout://PATH[:TAG][@DIGEST]` (buildx's forms for `build`; `target:` is bake's).
package struct BuildContextSpec: Sendable, Hashable {
    /// `NamedContext.key` of NAME: how FROM, COPY --from and mount from= names find it.
    package var name: String
    package var context: NamedContext
    /// For a directory: its absolute path.
    package var directory: String?

    /// The resolver's name for an OCI layout image: the layout's absolute path and the manifest's digest.
    static let ociLayoutScheme = "oci-layout://"

    package init(parsing text: String) throws {
        func fail(_ why: String) -> RequestError { RequestError("--build-context \(text): \(why)") }
        guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
            throw fail("expected NAME=VALUE (a directory, docker-image://REF or oci-layout://PATH[:TAG])")
        }
        let rawName = String(text[..<eq])
        let value = String(text[text.index(after: eq)...])
        // As buildx: NAME is an image reference or stage name (lower case), compared in its familiar form.
        guard rawName.allSatisfy({ ($0.isASCII && ($0.isLowercase || $0.isNumber)) || "._-/:@".contains($0) }) else {
            throw fail("invalid name \"\(rawName)\": use a lower-case stage name or image reference")
        }
        name = NamedContext.key(rawName)
        guard !value.isEmpty else { throw fail("empty value") }
        if value.hasPrefix("docker-image://") {
            let reference = String(value.dropFirst("docker-image://".count))
            do { _ = try Reference(parsing: reference) } catch {
                throw fail("invalid image reference \"\(reference)\": \(error)")
            }
            context = .image(reference)
        } else if value.hasPrefix(Self.ociLayoutScheme) {
            let (path, digest) = try Self.ociLayout(String(value.dropFirst(Self.ociLayoutScheme.count)), fail: fail)
            context = .image(Self.ociLayoutScheme + path + "@" + digest.description)
        } else if value.hasPrefix("target:") {
            throw fail("the target: form is only for docker buildx bake; in img build, name the stage in the Dockerfile")
        } else if value.hasPrefix("git@") || value.hasPrefix("http://") || value.hasPrefix("https://")
                    || value.hasPrefix("git://") || value.hasSuffix(".git") {
            throw fail("git and URL contexts are not supported; use a directory, docker-image:// or oci-layout://")
        } else if let scheme = value.range(of: "://") {
            throw fail("unknown scheme \(value[..<scheme.lowerBound])://; use a directory, docker-image:// or oci-layout://")
        } else {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: value, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw fail("\(value) is not a directory")
            }
            directory = Self.absolute(value)
            context = .directory
        }
    }

    /// `PATH[:TAG][@DIGEST]`: the layout's absolute path and the digest of the image it names (the digest
    /// given, else the `index.json` entry whose ref name is TAG, `latest` by default, or the only entry).
    private static func ociLayout(_ text: String, fail: (String) -> RequestError) throws -> (String, Digest) {
        var rest = text
        var digest: Digest?
        if let at = rest.lastIndex(of: "@") {
            let digestText = String(rest[rest.index(after: at)...])
            do { digest = try Digest(parsing: digestText) } catch { throw fail("invalid digest \(digestText)") }
            rest = String(rest[..<at])
        }
        var tag: String?
        // A tag follows the last path component's colon, so paths with colons in directories still work.
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            tag = String(rest[rest.index(after: colon)...])
            rest = String(rest[..<colon])
        }
        guard !rest.isEmpty else { throw fail("expected oci-layout://PATH[:TAG][@sha256:...]") }
        let path = absolute(rest)
        guard let data = FileManager.default.contents(atPath: path + "/index.json"),
              FileManager.default.fileExists(atPath: path + "/oci-layout") else {
            throw fail("\(rest) is not an OCI layout (no oci-layout and index.json)")
        }
        let index: Index
        do { index = try JSONDecoder().decode(Index.self, from: data) } catch {
            throw fail("\(rest)/index.json is not an OCI index")
        }
        if let digest {
            // Any manifest of the layout will do; the resolver checks it is there.
            if let tag, !index.manifests.contains(where: { $0.digest == digest && refName($0) == tag }) {
                throw fail("tag \(tag) of \(rest) is not \(digest)")
            }
            return (path, digest)
        }
        let wanted = tag ?? "latest"
        if let entry = index.manifests.first(where: { refName($0) == wanted }) { return (path, entry.digest) }
        if tag == nil, index.manifests.count == 1 { return (path, index.manifests[0].digest) }
        let tags = index.manifests.compactMap(refName)
        throw fail("no image tagged \(wanted) in \(rest)" + (tags.isEmpty ? "" : " (tags: \(tags.joined(separator: ", ")))"))
    }

    /// `path` made absolute against the working directory and cleaned (`..` resolved).
    private static func absolute(_ path: String) -> String {
        let full = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return URL(filePath: full).standardizedFileURL.path
    }

    /// The entry's tag: `org.opencontainers.image.ref.name` (a full name there counts by its tag).
    private static func refName(_ descriptor: Descriptor) -> String? {
        guard let ref = descriptor.annotations?["org.opencontainers.image.ref.name"] else { return nil }
        if ref.contains("/") || ref.contains(":"), let parsed = try? Reference(parsing: ref) { return parsed.tag ?? ref }
        return ref
    }
}
