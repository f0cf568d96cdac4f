import Foundation
import Glibc
@testable import ImgSBOM
import ImgTestSupport
import Testing

@Suite struct DpkgScannerTests {
    static let status = """
        Package: tool
        Status: install ok installed
        Priority: optional
        Architecture: amd64
        Maintainer: Tool Team <tool@example.org>
        Source: tool-src (1.0-1)
        Version: 1:2.5-3
        Description: a tool
         with a long description
         .
         over lines

        Package: libthing
        Status: install ok installed
        Multi-Arch: same
        Architecture: arm64
        Maintainer: Thing Maintainers <thing@example.org>
        Version: 0.9-1

        Package: removed
        Status: deinstall ok config-files
        Architecture: amd64
        Version: 3.0-1

        Package: held
        Status: hold ok installed
        Architecture: all
        Version: 7

        Package: halfway
        Status: install reinstreq half-installed
        Architecture: amd64
        Version: 1.1

        Package: broken
        this line is no field
        Status: install ok installed
        Version: 1

        Package: noversion
        Status: install ok installed

        """

    static let dep5 = """
        Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
        Upstream-Name: tool

        Files: *
        Copyright: 2020 Someone
        License: GPL-2+

        Files: lib/*
        Copyright: 2021 Else
        License: BSD-3-clause, Expat

        Files: debian/*
        License: GPL-2+

        License: GPL-2+
         The text of the licence.

        """

    func fixture() throws -> SBOMFixture {
        let root = try SBOMFixture()
        try root.write("/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n")
        try root.write("/var/lib/dpkg/status", Self.status)
        try root.write("/usr/bin/tool", "tool binary")
        try root.write("/usr/share/doc/tool/copyright", Self.dep5)
        try root.symlink("/usr/bin/tool-link", to: "tool")
        try root.write("/var/lib/dpkg/info/tool.list", "/.\n/usr\n/usr/bin\n/usr/bin/tool\n/usr/bin/tool-link\n/usr/bin/missing\n")
        // A Multi-Arch: same package's list is named with its architecture.
        try root.write("/usr/lib/aarch64-linux-gnu/libthing.so.0", "thing")
        try root.write("/var/lib/dpkg/info/libthing:arm64.list", "/usr/lib/aarch64-linux-gnu/libthing.so.0\n")
        try root.write("/usr/share/doc/libthing/copyright", "This package was debianized by someone.\nLicense: GPL\n")
        // Only md5sums, no list.
        try root.write("/etc/held.conf", "held")
        try root.write("/var/lib/dpkg/info/held.md5sums", "0123456789abcdef0123456789abcdef  etc/held.conf\n")
        return root
    }

    @Test func installedStanzasOnly() throws {
        let packages = try fixture().scan()
        #expect(packages.map(\.name) == ["held", "libthing", "tool"])
        let tool = try #require(packages.named("tool"))
        #expect(tool.ecosystem == .deb)
        #expect(tool.version == "1:2.5-3")
        #expect(tool.architecture == "amd64")
        #expect(tool.supplier == "Tool Team <tool@example.org>")
        #expect(tool.sourcePackage == "tool-src")
        #expect(tool.distribution == Distribution(id: "debian", versionID: "12"))
        #expect(tool.purl == "pkg:deb/debian/tool@1:2.5-3?arch=amd64&distro=debian-12")
    }

    @Test func filesAreTheRegularOnesOfTheList() throws {
        let root = try fixture()
        let packages = try root.scan()
        let tool = try #require(packages.named("tool"))
        // Directories, the symlink and the missing file are left out.
        #expect(tool.files.map(\.path) == ["/usr/bin/tool"])
        #expect(tool.files.first?.sha256 == (try SBOMFixture.sha256sum(root.root + "/usr/bin/tool")))
        #expect(tool.files.first?.sha1.count == 40)
        #expect(packages.named("libthing")?.files.map(\.path) == ["/usr/lib/aarch64-linux-gnu/libthing.so.0"])
        #expect(packages.named("held")?.files.map(\.path) == ["/etc/held.conf"])
    }

    @Test func licencesComeFromMachineReadableCopyrightOnly() throws {
        let packages = try fixture().scan()
        #expect(packages.named("tool")?.license == "GPL-2+ and (BSD-3-clause and Expat)")
        #expect(packages.named("libthing")?.license == nil)
        let declared = try #require(packages.named("tool")?.license)
        let license = try #require(SPDXLicense(declared))
        #expect(license.expression == "GPL-2.0-or-later AND BSD-3-Clause AND MIT")
    }

    @Test func dep5LicenceLines() {
        #expect(SBOMScanner.dep5Expression("GPL-2+ with OpenSSL exception") == "GPL-2+ with OpenSSL-exception")
        #expect(SPDXLicense(SBOMScanner.dep5Expression("GPL-2+ with OpenSSL exception"))?.expression == "GPL-2.0-or-later WITH OpenSSL-exception")
        #expect(SBOMScanner.dep5Expression("BSD-3-clause, Expat") == "BSD-3-clause and Expat")
        #expect(SBOMScanner.dep5Expression("GPL-2+ or Artistic") == "GPL-2+ or Artistic")
    }

    @Test func statusDirectoryOfDistroless() throws {
        let root = try SBOMFixture()
        try root.write("/var/lib/dpkg/status.d/base", "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\nMaintainer: Santiago Vila <sanvila@debian.org>\n")
        try root.write("/var/lib/dpkg/status.d/base.md5sums", "d41d8cd98f00b204e9800998ecf8427e  etc/debian_version\n")
        try root.write("/var/lib/dpkg/status.d/tzdata", "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n")
        try root.write("/var/lib/dpkg/status.d/gone", "Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n")
        try root.write("/etc/debian_version", "12.5\n")
        let packages = try root.scan()
        #expect(packages.map(\.name) == ["base-files", "tzdata"])
        #expect(packages.named("base-files")?.files.map(\.path) == ["/etc/debian_version"])
        // No os-release: the purl has Debian's namespace and no distro.
        #expect(packages.named("base-files")?.purl == "pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64")
    }

    @Test func symlinksNeverLeaveTheRoot() throws {
        let outside = try TemporaryDirectory("img-sbom-outside")
        try outside.write("dpkg/status", "Package: host-only\nStatus: install ok installed\nVersion: 1\n")
        try outside.write("secret/file", "not in the image")
        try outside.write("doc/copyright", Self.dep5)
        let root = try SBOMFixture()
        // The database directory, a package's doc directory and a listed directory all point out of the root,
        // absolutely and by `..`.
        try root.symlink("/var/lib/dpkg", to: outside.path + "/dpkg")
        let relative = String(repeating: "../", count: 12) + String(outside.path.dropFirst())
        try root.symlink("/usr/share/doc/pkg", to: relative + "/doc")
        try root.symlink("/escape", to: outside.path + "/secret")
        #expect(try root.scan().isEmpty)

        try FileManager.default.removeItem(atPath: root.root + "/var/lib/dpkg")
        try root.write("/var/lib/dpkg/status", "Package: pkg\nStatus: install ok installed\nVersion: 1\n")
        try root.write("/var/lib/dpkg/info/pkg.list", "/escape/file\n/usr/share/doc/pkg/copyright\n")
        let packages = try root.scan()
        let package = try #require(packages.named("pkg"))
        #expect(package.files.isEmpty)
        #expect(package.license == nil)
        #expect(packages.named("host-only") == nil)
    }

    @Test func symlinksInsideTheRootAreFollowedForDatabases() throws {
        let root = try SBOMFixture()
        try root.write("/data/dpkg/status", "Package: moved\nStatus: install ok installed\nVersion: 2\n")
        try root.symlink("/var/lib/dpkg", to: "/data/dpkg")
        try root.write("/usr/lib/os-release", "ID=ubuntu\nVERSION_ID=24.04\n")
        try root.symlink("/etc/os-release", to: "../usr/lib/os-release")
        let packages = try root.scan()
        #expect(packages.map(\.purl) == ["pkg:deb/ubuntu/moved@2?distro=ubuntu-24.04"])
    }
}
