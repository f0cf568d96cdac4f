import ImgSystem
import Testing
import ImgTestSupport

/// The one line a failed id mapping prints says how to fix it, also where the cause is a container.
@Suite struct UserNamespaceErrorTests {
    @Test func refusedMappingInsideAContainerNamesFileCapabilities() {
        let error = UserNamespaceError.mappingFailed(
            tool: "/usr/bin/newuidmap", detail: "newuidmap: write to uid_map failed: Operation not permitted")
        #expect(error.code == .mappingFailed)
        #expect(error.description.contains("chmod u-s /usr/bin/newuidmap /usr/bin/newgidmap && setcap cap_setuid+ep /usr/bin/newuidmap && setcap cap_setgid+ep /usr/bin/newgidmap"), "\(error)")
        #expect(!error.description.contains("\n"))
        let gid = UserNamespaceError.mappingFailed(tool: "/usr/bin/newgidmap", detail: "newgidmap: write to gid_map failed: Operation not permitted")
        #expect(gid.description.contains("setcap cap_setuid+ep /usr/bin/newuidmap && setcap cap_setgid+ep /usr/bin/newgidmap"), "\(gid)")
    }

    @Test func otherMappingFailuresPointAtSetuidAndRanges() {
        let error = UserNamespaceError.mappingFailed(tool: "/usr/bin/newuidmap", detail: "newuidmap: uid range [1-65537) -> [100000-165536) not allowed")
        #expect(error.description.contains("setuid root") && error.description.contains("do not overlap"))
        #expect(!error.description.contains("setcap"))
    }
}
