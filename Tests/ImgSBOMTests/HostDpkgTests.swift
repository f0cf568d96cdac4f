import Foundation
import Glibc
@testable import ImgSBOM
import ImgSystem
import ImgTestSupport
import Testing

/// Real data: the host (Debian) has dpkg, libc6 and base-files installed; a root made of the host's status
/// file, those packages' info files and their files must give the versions dpkg itself reports.
@Suite(.needs(.dpkgQuery, .sha256sum, .python3, .jsonschema)) struct HostDpkgTests {
    static let names = ["base-files", "dpkg", "libc6"]

    /// Copies a host file into the root at the same path (making its directories), when it is a regular file.
    static func copy(_ path: String, into root: SBOMFixture) {
        var st = stat()
        guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return }
        let target = root.root + path
        try? FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try? FileManager.default.copyItem(atPath: path, toPath: target)
    }

    @Test func versionsAreThoseDpkgQueryPrints() throws {
        let query = try Prerequisite.dpkgQuery.require()
        let root = try SBOMFixture()
        Self.copy("/var/lib/dpkg/status", into: root)
        Self.copy("/etc/os-release", into: root)
        Self.copy("/usr/lib/os-release", into: root)
        let info = try FileManager.default.contentsOfDirectory(atPath: "/var/lib/dpkg/info")
        for name in Self.names {
            for file in info where (file.hasPrefix(name + ".") || file.hasPrefix(name + ":"))
                && (file.hasSuffix(".list") || file.hasSuffix(".md5sums")) {
                Self.copy("/var/lib/dpkg/info/" + file, into: root)
                guard file.hasSuffix(".list"), let list = try? String(contentsOfFile: "/var/lib/dpkg/info/" + file, encoding: .utf8) else { continue }
                for path in list.split(separator: "\n") { Self.copy(String(path), into: root) }
            }
            Self.copy("/usr/share/doc/\(name)/copyright", into: root)
        }
        let packages = try root.scan()
        for name in Self.names {
            let expected = try runTool(query, ["-W", "-f", "${Version}", name])
            let architecture = try runTool(query, ["-W", "-f", "${Architecture}", name])
            let found = packages.filter { $0.name == name }
            #expect(found.map(\.version) == [expected], "\(name)")
            #expect(found.first?.architecture == architecture)
            #expect(found.first?.files.isEmpty == false, "\(name) has files")
            #expect(found.first?.purl.hasPrefix("pkg:deb/") == true)
        }
        // A licence exactly when the host's copyright file is machine-readable.
        let copyright = (try? String(contentsOfFile: "/usr/share/doc/dpkg/copyright", encoding: .utf8)) ?? ""
        let machineReadable = copyright.split(separator: "\n").first?.contains("copyright-format") == true
        #expect((packages.named("dpkg")?.license != nil) == machineReadable)
        // The same root scanned again gives the same packages and files, in the same order.
        #expect(try root.scan() == packages)
        // Checksums agree with coreutils on a real binary.
        let dpkg = try #require(packages.named("dpkg")?.files.first { $0.path.hasSuffix("/bin/dpkg") })
        #expect(dpkg.sha256 == (try SBOMFixture.sha256sum(root.root + dpkg.path)))
        // The whole document is valid JSON that names each of them.
        let document = SPDXDocument.make(packages: packages, name: "host", namespace: "https://img.example/spdx/host",
                                         created: Date(timeIntervalSince1970: 0), toolVersion: "test")
        let json = try #require(try JSONSerialization.jsonObject(with: document.jsonData()) as? [String: Any])
        let names = Set((json["packages"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String })
        #expect(names.isSuperset(of: Self.names))
        // Real maintainers and real copyright files still make a valid document.
        let validation = try SPDXSchema.validate([try document.jsonData()])
        #expect(validation.status.isSuccess, "\(validation.output)")
    }
}
