import Foundation
@testable import ImgSBOM
import ImgTestSupport
import Testing

@Suite struct PythonScannerTests {
    @Test func distInfoInSiteAndDistPackages() throws {
        let root = try SBOMFixture()
        let site = "/usr/local/lib/python3.12/site-packages"
        try root.write(site + "/Requests_Toolbelt-1.0.0.dist-info/METADATA", """
            Metadata-Version: 2.1
            Name: Requests_Toolbelt
            Version: 1.0.0
            Author: Ian Cordasco
            Author-email: graffatcolmingov@gmail.com
            License: Apache 2.0
            Classifier: License :: OSI Approved :: Apache Software License

            The description, with a line that looks like a header:
            Version: 9.9.9
            """)
        try root.write(site + "/Requests_Toolbelt-1.0.0.dist-info/RECORD", """
            requests_toolbelt/__init__.py,sha256=abc,100
            "requests_toolbelt/odd, name.py",sha256=def,5
            requests_toolbelt/__pycache__/__init__.cpython-312.pyc,,
            ../../../bin/toolbelt,sha256=x,1
            ../../../../../../../../../etc/shadow,,
            Requests_Toolbelt-1.0.0.dist-info/RECORD,,
            """)
        try root.write(site + "/requests_toolbelt/__init__.py", "init")
        try root.write(site + "/requests_toolbelt/odd, name.py", "odd")
        try root.write("/usr/local/bin/toolbelt", "#!/usr/bin/python3")
        try root.write("/usr/lib/python3/dist-packages/attrs-23.2.0.dist-info/METADATA", """
            Metadata-Version: 2.4
            Name: attrs
            Version: 23.2.0
            License-Expression: MIT
            License: the MIT licence, see LICENSE
            Maintainer: Hynek <hs@ox.cx>

            """)
        try root.write("/usr/lib/python3/dist-packages/broken-1.dist-info/METADATA", "Name: broken\n\nVersion: 1\n")
        // A symlinked directory is not entered, so nothing is found twice or outside the root.
        try root.symlink("/opt/loop", to: "/usr")
        let packages = try root.scan()
        #expect(packages.map(\.name) == ["Requests_Toolbelt", "attrs"])
        let toolbelt = try #require(packages.named("Requests_Toolbelt"))
        #expect(toolbelt.version == "1.0.0")
        #expect(toolbelt.originator == "Ian Cordasco <graffatcolmingov@gmail.com>")
        #expect(toolbelt.license == "Apache 2.0")
        #expect(toolbelt.purl == "pkg:pypi/requests-toolbelt@1.0.0")
        #expect(toolbelt.files.map(\.path) == [
            site + "/Requests_Toolbelt-1.0.0.dist-info/RECORD", site + "/requests_toolbelt/__init__.py",
            site + "/requests_toolbelt/odd, name.py", "/usr/local/bin/toolbelt",
        ].sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        let attrs = try #require(packages.named("attrs"))
        #expect(attrs.license == "MIT")
        #expect(attrs.supplier == "Hynek <hs@ox.cx>")
        // Free text is no licence expression.
        #expect(SPDXLicense("Apache 2.0") == nil)
    }
}
