import ImgSystem

/// A Linux capability, by its number in the kernel's bit set; `name` is the `CAP_` name the OCI spec uses.
package enum Capability: Int, Sendable, Hashable, CaseIterable, Comparable {
    case chown = 0, dacOverride, dacReadSearch, fowner, fsetid, kill, setgid, setuid, setpcap, linuxImmutable
    case netBindService, netBroadcast, netAdmin, netRaw, ipcLock, ipcOwner, sysModule, sysRawio, sysChroot
    case sysPtrace, sysPacct, sysAdmin, sysBoot, sysNice, sysResource, sysTime, sysTtyConfig, mknod, lease
    case auditWrite, auditControl, setfcap, macOverride, macAdmin, syslog, wakeAlarm, blockSuspend, auditRead
    case perfmon, bpf, checkpointRestore

    /// `CAP_DAC_OVERRIDE` for `.dacOverride`.
    package var name: String {
        var name = "CAP_"
        for character in "\(self)" {
            if character.isUppercase { name += "_" }
            name += character.uppercased()
        }
        return name
    }

    package static func < (lhs: Capability, rhs: Capability) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Docker's default set, which Dockerfile RUN steps are written against.
    package static let dockerDefault: Set<Capability> = [
        .chown, .dacOverride, .fowner, .fsetid, .kill, .setgid, .setuid, .setpcap, .netBindService, .netRaw,
        .sysChroot, .mknod, .auditWrite, .setfcap,
    ]

    /// Every capability img's process may still hold (its bounding set, `CapBnd` in /proc/self/status), which
    /// is all a container can be given: asking runc for one outside it fails the step. Without the file,
    /// every capability this img knows.
    package static var bounding: Set<Capability> {
        let status = (try? SmallTextFile.read("/proc/self/status")) ?? nil
        guard let line = status?.split(separator: "\n").first(where: { $0.hasPrefix("CapBnd:") }),
              let mask = UInt64(line.dropFirst("CapBnd:".count).filter(\.isHexDigit), radix: 16)
        else { return Set(allCases) }
        return Set(allCases.filter { mask & (1 << UInt64($0.rawValue)) != 0 })
    }
}
