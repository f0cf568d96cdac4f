import Foundation
import ImgRuntime
import ImgSystem
import Testing
import ImgTestSupport

@Suite struct RuntimeSpecTests {
    private func json(_ spec: RuntimeSpec) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: JSONEncoder().encode(spec)) as! [String: Any]
    }

    @Test func rootlessSpecHasNoUserNamespaceNoCgroupsAndBindsSys() throws {
        let step = RunStep(rootfs: "/r", command: .shell("make"), environment: ["A=1"], workingDirectory: "/src", hostname: "h")
        let spec = RuntimeSpec(step: step, user: ContainerUser(uid: 1000, gid: 1000, additionalGids: [2000], home: "/home/app"), rootless: true)
        let object = try json(spec)
        let linux = object["linux"] as! [String: Any]
        #expect(linux["uidMappings"] == nil && linux["gidMappings"] == nil && linux["resources"] == nil && linux["cgroupsPath"] == nil)
        #expect((linux["namespaces"] as! [[String: String]]).map { $0["type"]! } == ["pid", "ipc", "uts", "mount"])
        let process = object["process"] as! [String: Any]
        #expect(process["args"] as! [String] == ["/bin/sh", "-c", "make"])
        #expect(process["env"] as! [String] == ["PATH=\(RuntimeSpec.defaultPath)", "A=1", "HOME=/home/app"])
        #expect(process["cwd"] as! String == "/src")
        #expect(process["terminal"] as! Bool == false)
        let user = process["user"] as! [String: Any]
        #expect(user["uid"] as! Int == 1000 && user["gid"] as! Int == 1000 && user["additionalGids"] as! [Int] == [2000])
        let capabilities = process["capabilities"] as! [String: [String]]
        #expect(Set(capabilities["bounding"]!) == [
            "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
            "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP",
        ])
        #expect(capabilities["effective"] == capabilities["bounding"] && capabilities["permitted"] == capabilities["bounding"])
        let mounts = spec.mounts
        #expect(mounts.map(\.destination) == ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/etc/resolv.conf", "/etc/hosts"])
        #expect(mounts.first { $0.destination == "/sys" } == RuntimeMount(destination: "/sys", type: "bind", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", "ro"]))
        #expect(spec.root == RuntimeRoot(path: "/r", readonly: false) && (object["root"] as! [String: Any]).keys.sorted() == ["path", "readonly"])
        #expect(object["hostname"] as! String == "h")
    }

    @Test func privilegedSpecMountsSysfsAndNetworkNoneAddsANamespace() {
        var step = RunStep(rootfs: "/r", command: .exec(["/x", "y z"]), environment: ["PATH=/bin", "HOME=/h"], network: .none)
        step.mounts = [.init(destination: "/cache", kind: .bind(source: "/host/cache", readOnly: false)), .init(destination: "/t", kind: .tmpfs(options: ["size=1m"]))]
        let spec = RuntimeSpec(step: step, user: ContainerUser(uid: 0, gid: 0), rootless: false, hostFiles: ["/etc/hosts"])
        #expect(spec.process.args == ["/x", "y z"])
        #expect(spec.process.env == ["PATH=/bin", "HOME=/h"])
        #expect(spec.process.user.additionalGids == nil)
        #expect(spec.linux.namespaces.map(\.type) == [.pid, .ipc, .uts, .mount, .network])
        #expect(spec.mounts.first { $0.destination == "/sys" }?.type == "sysfs")
        #expect(Array(spec.mounts.suffix(3)) == [
            RuntimeMount(destination: "/etc/hosts", type: "bind", source: "/etc/hosts", options: ["rbind", "nosuid", "nodev", "ro"]),
            RuntimeMount(destination: "/cache", type: "bind", source: "/host/cache", options: ["rbind", "nosuid", "nodev"]),
            RuntimeMount(destination: "/t", type: "tmpfs", source: "tmpfs", options: ["size=1m"]),
        ])
    }

    @Test func commandDescriptionsForMessages() {
        #expect(RunStep.Command.shell("a && b").description == "a && b")
        #expect(RunStep.Command.exec(["/bin/echo", "x"]).description == "[\"/bin/echo\", \"x\"]")
        #expect(RunStep.Command.shell("x", shell: ["/bin/bash", "-eo", "pipefail", "-c"]).arguments == ["/bin/bash", "-eo", "pipefail", "-c", "x"])
    }
}

@Suite struct ContainerUserTests {
    static let passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nsvc:x:999:998:::\n#junk\n"
    static let group = "root:x:0:\nwheel:x:10:root,app\napp:x:1000:\nsvc:x:998:\nextra:x:2000: app , svc\n"

    @Test(arguments: [
        (String?.none, ContainerUser(uid: 0, gid: 0, additionalGids: [10], home: "/root")),
        ("", ContainerUser(uid: 0, gid: 0, additionalGids: [10], home: "/root")),
        ("app", ContainerUser(uid: 1000, gid: 1000, additionalGids: [10, 2000], home: "/home/app")),
        ("1000", ContainerUser(uid: 1000, gid: 1000, additionalGids: [10, 2000], home: "/home/app")),
        ("app:wheel", ContainerUser(uid: 1000, gid: 10, additionalGids: [2000], home: "/home/app")),
        ("app:5", ContainerUser(uid: 1000, gid: 5, additionalGids: [10, 2000], home: "/home/app")),
        ("svc", ContainerUser(uid: 999, gid: 998, additionalGids: [2000], home: "/")),
        ("4242", ContainerUser(uid: 4242, gid: 0, additionalGids: [], home: "/")),
        ("4242:77", ContainerUser(uid: 4242, gid: 77, additionalGids: [], home: "/")),
    ])
    func resolves(spec: String?, expected: ContainerUser) throws {
        #expect(try ContainerUser.resolve(spec, passwd: Self.passwd, group: Self.group) == expected)
    }

    @Test func numericAndRootWorkWithoutFiles() throws {
        #expect(try ContainerUser.resolve("1000:1000", passwd: nil, group: nil) == ContainerUser(uid: 1000, gid: 1000))
        #expect(try ContainerUser.resolve("root", passwd: nil, group: nil) == ContainerUser(uid: 0, gid: 0))
    }

    @Test(arguments: [
        ("nobody", "unable to find user nobody: no matching entries in the image's /etc/passwd"),
        ("app:staff", "unable to find group staff: no matching entries in the image's /etc/group"),
    ])
    func unknownNamesAreErrors(spec: String, message: String) {
        #expect {
            try ContainerUser.resolve(spec, passwd: Self.passwd, group: Self.group)
        } throws: { error in
            (error as? UserLookupError) == UserLookupError(.unknownUser, message)
        }
    }
}
