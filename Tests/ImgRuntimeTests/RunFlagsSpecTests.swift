import Foundation
import ImgRuntime
import ImgSystem
import Testing

/// `img build --add-host`, `--shm-size` and `--ulimit` as the runtime spec carries them.
@Suite struct RunFlagsSpecTests {
    @Test func ulimitsShmAndHostsFileReachTheSpec() throws {
        var step = RunStep(rootfs: "/r", command: .shell("true"))
        step.ulimits = [RunStep.Ulimit(name: "nofile", soft: 1024, hard: 2048), RunStep.Ulimit(name: "core", soft: 0, hard: .max)]
        step.shmSize = 134_217_728
        let spec = RuntimeSpec(step: step, user: ContainerUser(uid: 0, gid: 0), rootless: false,
                               hostFiles: ["/etc/resolv.conf", "/etc/hosts"], hostsFile: "/bundle/hosts")
        #expect(spec.process.rlimits == [RuntimeRlimit(type: "RLIMIT_NOFILE", soft: 1024, hard: 2048),
                                         RuntimeRlimit(type: "RLIMIT_CORE", soft: 0, hard: UInt64.max)])
        #expect(spec.mounts.first { $0.destination == "/dev/shm" }?.options?.contains("size=134217728") == true)
        // The generated file replaces the host's, bound once, read-only.
        let hosts = spec.mounts.filter { $0.destination == "/etc/hosts" }
        #expect(hosts == [RuntimeMount(destination: "/etc/hosts", type: "bind", source: "/bundle/hosts", options: ["rbind", "nosuid", "nodev", "ro"])])
        let process = try JSONSerialization.jsonObject(with: JSONEncoder().encode(spec.process)) as! [String: Any]
        let rlimits = process["rlimits"] as! [[String: Any]]
        #expect(rlimits.first?["type"] as? String == "RLIMIT_NOFILE")
    }

    @Test func withoutFlagsTheSpecIsAsBefore() {
        let step = RunStep(rootfs: "/r", command: .shell("true"))
        let spec = RuntimeSpec(step: step, user: ContainerUser(uid: 0, gid: 0), rootless: false, hostFiles: ["/etc/hosts"])
        #expect(spec.process.rlimits == nil)
        #expect(spec.mounts.first { $0.destination == "/dev/shm" }?.options?.contains("size=65536k") == true)
        #expect(spec.mounts.filter { $0.destination == "/etc/hosts" }.map(\.source) == ["/etc/hosts"])
    }
}
