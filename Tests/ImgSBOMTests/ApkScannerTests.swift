import Foundation
@testable import ImgSBOM
import ImgTestSupport
import Testing

@Suite struct ApkScannerTests {
    static let installed = """
        C:Q1abcdefabcdefabcdefabcdefabcdefabc=
        P:musl
        V:1.2.4-r2
        A:x86_64
        S:383152
        I:622592
        T:the musl c library (libc) implementation
        U:https://musl.libc.org/
        L:MIT
        o:musl
        m:Timo Teräs <timo.teras@iki.fi>
        F:lib
        R:ld-musl-x86_64.so.1
        a:0:0:755
        Z:Q1aaaaaaaaaaaaaaaaaaaaaaaaaaa=
        R:libc.musl-x86_64.so.1

        P:busybox
        V:1.36.1-r15
        A:x86_64
        L:GPL-2.0-only
        o:busybox
        F:bin
        R:busybox
        F:etc
        R:busybox-paths.d

        this is no record line
        P:garbage
        V:1

        P:noversion

        P:zlib
        V:1.3.1-r0
        A:x86_64
        L:Zlib AND (MIT OR Apache-2.0)
        """

    @Test func packagesFilesAndLicences() throws {
        let root = try SBOMFixture()
        try root.write("/etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\n")
        try root.write("/lib/apk/db/installed", Self.installed)
        try root.write("/lib/ld-musl-x86_64.so.1", "loader")
        try root.symlink("/lib/libc.musl-x86_64.so.1", to: "ld-musl-x86_64.so.1")
        try root.write("/bin/busybox", "busybox")
        let packages = try root.scan()
        #expect(packages.map(\.name) == ["busybox", "musl", "zlib"])
        let musl = try #require(packages.named("musl"))
        #expect(musl.version == "1.2.4-r2")
        #expect(musl.license == "MIT")
        #expect(musl.supplier == "Timo Teräs <timo.teras@iki.fi>")
        #expect(musl.sourcePackage == "musl")
        #expect(musl.files.map(\.path) == ["/lib/ld-musl-x86_64.so.1"])
        #expect(musl.files.first?.sha256 == (try SBOMFixture.sha256sum(root.root + "/lib/ld-musl-x86_64.so.1")))
        #expect(musl.purl == "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1")
        #expect(packages.named("busybox")?.files.map(\.path) == ["/bin/busybox"])
        let zlib = try #require(packages.named("zlib")?.license)
        #expect(SPDXLicense(zlib)?.expression == "Zlib AND (MIT OR Apache-2.0)")
    }
}
