import Glibc
import ImgSystem
import Testing
import ImgTestSupport

@Suite struct SubordinateIDsTests {
    static let file = """
        # comment
        alice:100000:65536
        1001:300000:1000
        bob:200000:65536

        1001:400000:64536
        broken line
        carol:5:0
        dave:x:10
          alice : 900000 : 10
        """

    @Test func byNameAndByUIDInFileOrder() {
        let ids = SubordinateIDs(parsing: Self.file)
        #expect(ids.ranges(user: "alice", uid: 1000) == [.init(start: 100000, count: 65536)])
        #expect(ids.ranges(user: "bob", uid: 1002) == [.init(start: 200000, count: 65536)])
        // Named by uid: both lines, in order.
        #expect(ids.ranges(user: "erin", uid: 1001) == [.init(start: 300000, count: 1000), .init(start: 400000, count: 64536)])
        #expect(ids.ranges(user: nil, uid: 1001).count == 2)
        #expect(ids.ranges(user: "nobody-here", uid: 4242).isEmpty)
    }

    @Test func malformedAndZeroCountLinesAreSkipped() {
        let ids = SubordinateIDs(parsing: Self.file)
        #expect(ids.ranges(user: "carol", uid: 1).isEmpty)
        #expect(ids.ranges(user: "dave", uid: 1).isEmpty)
        // "  alice : 900000 : 10" parses, but its owner is "alice " (padded), so it is nobody's: the first test
        // sees one range for alice.
        #expect(ids.entries.count == 5)
    }

    @Test func missingFileIsEmpty() throws {
        #expect(try SubordinateIDs(contentsOf: "/nonexistent/subuid").entries.isEmpty)
    }

    @Test func rootlessMapSpansRangesUpTo65536() {
        let map = IDMapping.rootlessMap(caller: 1001, ranges: [.init(start: 300000, count: 1000), .init(start: 400000, count: 100000)])
        #expect(map == [
            IDMapping(inside: 0, outside: 1001, count: 1),
            IDMapping(inside: 1, outside: 300000, count: 1000),
            IDMapping(inside: 1001, outside: 400000, count: 64536),
        ])
        #expect(IDMapping.arguments(map) == ["0", "1001", "1", "1", "300000", "1000", "1001", "400000", "64536"])
        #expect(IDMapping.outside(0, in: map) == 1001)
        #expect(IDMapping.outside(1000, in: map) == 300999)
        #expect(IDMapping.outside(1001, in: map) == 400000)
        #expect(IDMapping.outside(65536, in: map) == 464535)
        #expect(IDMapping.outside(65537, in: map) == nil)
    }

    @Test func procMapParses() {
        #expect(IDMapping.parse(procMap: "         0          0 4294967295\n") == [IDMapping(inside: 0, outside: 0, count: UInt32.max)])
    }
}

@Suite struct UserNamespacePlanTests {
    static func facts(searchPath: String = "/usr/bin:/bin", subuid: String = "u:100000:65536", subgid: String = "u:100000:65536",
                      maxUserNamespaces: Int? = 100, clone: Int? = nil) -> UserNamespace.HostFacts {
        UserNamespace.HostFacts(
            uid: 1000, gid: 1000, userName: "u", subuid: SubordinateIDs(parsing: subuid), subgid: SubordinateIDs(parsing: subgid),
            searchPath: searchPath, maxUserNamespaces: maxUserNamespaces, unprivilegedUsernsClone: clone)
    }

    @Test(.needs(.newuidmap))
    func planMapsCallerAndRange() throws {
        try Prerequisite.newuidmap.require()
        let plan = try UserNamespace.plan(Self.facts())
        #expect(plan.newuidmap == "/usr/bin/newuidmap")
        #expect(plan.newgidmap == "/usr/bin/newgidmap")
        #expect(plan.uidMap == [IDMapping(inside: 0, outside: 1000, count: 1), IDMapping(inside: 1, outside: 100000, count: 65536)])
        #expect(plan.gidMap == plan.uidMap)
    }

    @Test func missingNewuidmapSaysWhichPackage() {
        #expect {
            try UserNamespace.plan(Self.facts(searchPath: "/nonexistent"))
        } throws: { error in
            let error = error as? UserNamespaceError
            return error?.code == .uidmapMissing
                && error?.description == "newuidmap not found on PATH; rootless img needs it to map ids: install Debian package uidmap (apt-get install uidmap)"
        }
    }

    @Test(.needs(.newuidmap), arguments: [("", "u:1:65536", "/etc/subuid"), ("u:1:65536", "", "/etc/subgid")])
    func missingRangeSaysHowToAddOne(subuid: String, subgid: String, file: String) throws {
        try Prerequisite.newuidmap.require()
        #expect {
            try UserNamespace.plan(Self.facts(subuid: subuid, subgid: subgid))
        } throws: { error in
            let error = error as? UserNamespaceError
            return error?.code == .noSubordinateIDs
                && error?.description == "no subordinate id range for user u in \(file): add one to /etc/subuid and /etc/subgid, e.g. usermod --add-subuids 100000-165535 --add-subgids 100000-165535 u"
        }
    }

    @Test(.needs(.newuidmap), arguments: [(Int?(0), Int?.none, "user.max_user_namespaces=0"), (100, 0, "kernel.unprivileged_userns_clone=0")])
    func disabledNamespacesSayWhichSysctl(max: Int?, clone: Int?, setting: String) throws {
        try Prerequisite.newuidmap.require()
        #expect {
            try UserNamespace.plan(Self.facts(maxUserNamespaces: max, clone: clone))
        } throws: { error in
            let error = error as? UserNamespaceError
            return error?.code == .userNamespacesDisabled && error!.description.contains("(\(setting))")
                && error!.description.contains("sysctl kernel.unprivileged_userns_clone=1")
                && error!.description.contains("user.max_user_namespaces")
        }
    }

    @Test(.needs(.root))
    func rootIsPrivilegedHere() throws {
        try Prerequisite.root.require()
        #expect(UserNamespace.state == .privileged)
        #expect(!UserNamespace.enteredByShim)
        // Root needs nothing: this returns at once, in this process.
        try UserNamespace.enterIfNeeded()
    }
}

@Suite struct ShimConstructorTests {
    /// The constructor acts only on its marker; given a malformed one, this very test binary stops before
    /// main with the shim's own message and status.
    @Test func malformedMarkerStopsBeforeMain() throws {
        let binary = try SmallTextFile.readLink("/proc/self/exe")
        let result = try ChildProcess.collect(
            executable: binary, arguments: ["--testing-library", "swift-testing", "--list-tests"],
            environment: ["_IMG_USERNS_STAGE=not-descriptors"])
        #expect(result.status == .exited(125))
        #expect(result.stderr == "img: malformed _IMG_USERNS_STAGE=not-descriptors\n")
        #expect(result.stdout.isEmpty)
    }
}
