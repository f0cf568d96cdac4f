import Foundation
import ImgRuntime
import ImgSystem
import Testing
import ImgTestSupport

/// The default seccomp profile as a value and as the JSON runc reads.
@Suite struct SeccompProfileTests {
    private static let profile = SeccompProfile.dockerDefault(capabilities: Capability.dockerDefault, architecture: .x86_64)

    @Test func anAllowlistRefusingWithEPERM() throws {
        let profile = Self.profile
        #expect(profile.defaultAction == .errno && profile.defaultErrnoRet == UInt32(EPERM))
        for name in ["read", "execve", "fork", "chown", "fchownat", "mknod", "mknodat", "setuid", "chroot", "arch_prctl"] {
            #expect(profile.allowsUnconditionally(name), "\(name)")
        }
        // Namespaces, mounts and the rest CAP_SYS_ADMIN would grant stay out with docker's default set.
        for name in ["unshare", "setns", "mount", "umount2", "fsopen", "bpf", "keyctl", "add_key", "userfaultfd",
                     "reboot", "init_module", "ptrace_nonexistent", "clone", "clone3", "personality", "socket"] {
            #expect(!profile.allowsUnconditionally(name), "\(name)")
        }
    }

    @Test func cloneMayNotMakeNamespacesAndClone3FallsBackWithoutSysAdmin() {
        let clone = Self.profile.syscalls.filter { $0.names == ["clone"] }
        #expect(clone == [SeccompRule(["clone"], args: [
            SeccompArgument(index: 0, value: 0x7E02_0000, valueTwo: 0, op: .maskedEqual),
        ])])
        #expect(Self.profile.syscalls.contains(SeccompRule(["clone3"], action: .errno, errnoRet: UInt32(ENOSYS))))
        #expect(Self.profile.syscalls.contains(SeccompRule(["socket"], args: [SeccompArgument(index: 0, value: 40, op: .notEqual)])))
        let personas = Self.profile.syscalls.filter { $0.names == ["personality"] }.compactMap { $0.args?.first?.value }
        #expect(personas == [0, 8, 0x20000, 0x20008, 0xffff_ffff])
    }

    @Test func capabilitiesBringTheirCalls() {
        let admin = SeccompProfile.dockerDefault(capabilities: Capability.dockerDefault.union([.sysAdmin, .sysPtrace]), architecture: .x86_64)
        for name in ["unshare", "mount", "setns", "clone", "clone3", "kcmp"] { #expect(admin.allowsUnconditionally(name), "\(name)") }
        #expect(!admin.syscalls.contains { $0.names == ["clone3"] && $0.action == .errno })
        let bare = SeccompProfile.dockerDefault(capabilities: [], architecture: .x86_64)
        #expect(!bare.allowsUnconditionally("chroot") && Self.profile.allowsUnconditionally("chroot"))
        // ptrace itself is fine on kernels since 4.8; before, only with CAP_SYS_PTRACE.
        let old = SeccompProfile.dockerDefault(capabilities: [], architecture: .x86_64, kernel: KernelVersion(major: 4, minor: 4))
        #expect(!old.allowsUnconditionally("ptrace") && Self.profile.allowsUnconditionally("ptrace"))
    }

    @Test func architecturesAreTheHostsWithItsCompatibleOnes() {
        #expect(Self.profile.architectures == [.x86_64, .x86, .x32])
        let arm = SeccompProfile.dockerDefault(capabilities: Capability.dockerDefault, architecture: .aarch64)
        #expect(arm.architectures == [.aarch64, .arm])
        #expect(arm.allowsUnconditionally("cacheflush") && !arm.allowsUnconditionally("arch_prctl"))
        #expect(!Self.profile.allowsUnconditionally("cacheflush"))
        #expect(SeccompProfile.dockerDefault(capabilities: [], architecture: .other).architectures.isEmpty)
    }

    @Test func specCarriesTheFilterUnlessInsecure() throws {
        let step = RunStep(rootfs: "/r", command: .shell("true"))
        let spec = RuntimeSpec(step: step, user: ContainerUser(uid: 0, gid: 0), rootless: false, hostFiles: [])
        #expect(spec.linux.seccomp == SeccompProfile.dockerDefault(capabilities: Capability.dockerDefault))
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(spec)) as! [String: Any]
        let seccomp = (object["linux"] as! [String: Any])["seccomp"] as! [String: Any]
        #expect(seccomp["defaultAction"] as? String == "SCMP_ACT_ERRNO" && seccomp["defaultErrnoRet"] as? Int == 1)
        let clone = (seccomp["syscalls"] as! [[String: Any]]).first { $0["names"] as? [String] == ["clone"] }
        let argument = (clone?["args"] as? [[String: Any]])?.first
        #expect(argument?["op"] as? String == "SCMP_CMP_MASKED_EQ" && argument?["index"] as? Int == 0
                && argument?["valueTwo"] as? Int == 0)

        var insecure = step
        insecure.security = .insecure
        let open = RuntimeSpec(step: insecure, user: ContainerUser(uid: 0, gid: 0), rootless: false, hostFiles: [])
        #expect(open.linux.seccomp == nil)
        #expect(Set(open.process.capabilities!.effective) == Set(Capability.bounding.map(\.name)))
        #expect(open.process.capabilities!.effective.contains("CAP_SYS_ADMIN"))
    }

    @Test func capabilityNames() {
        #expect(Capability.dacReadSearch.name == "CAP_DAC_READ_SEARCH" && Capability.sysAdmin.name == "CAP_SYS_ADMIN")
        #expect(Capability.checkpointRestore.rawValue == 40 && Capability.checkpointRestore.name == "CAP_CHECKPOINT_RESTORE")
        #expect(Capability.netBindService.name == "CAP_NET_BIND_SERVICE" && Capability.mknod.rawValue == 27)
    }
}
