/// `linux.seccomp` of the OCI runtime spec: the system-call filter runc installs just before it executes the
/// step's command. Field and value names are the spec's (libseccomp's `SCMP_*`), so the JSON is what runc
/// reads.
package struct SeccompProfile: Sendable, Hashable, Codable {
    /// What a call that no rule matches gets.
    package var defaultAction: SeccompAction
    /// The errno of an `SCMP_ACT_ERRNO` default action.
    package var defaultErrnoRet: UInt32?
    /// The architectures whose calls the filter accepts; calls of any other are refused outright. Empty
    /// means the native one only.
    package var architectures: [SeccompArchitecture]
    package var syscalls: [SeccompRule]

    package init(defaultAction: SeccompAction, defaultErrnoRet: UInt32? = nil, architectures: [SeccompArchitecture],
                 syscalls: [SeccompRule]) {
        self.defaultAction = defaultAction
        self.defaultErrnoRet = defaultErrnoRet
        self.architectures = architectures
        self.syscalls = syscalls
    }

    /// Whether some rule lets `name` through without conditions on its arguments.
    package func allowsUnconditionally(_ name: String) -> Bool {
        syscalls.contains { $0.action == .allow && $0.args == nil && $0.names.contains(name) }
    }
}

package enum SeccompAction: String, Sendable, Hashable, Codable {
    case allow = "SCMP_ACT_ALLOW"
    case errno = "SCMP_ACT_ERRNO"
    case kill = "SCMP_ACT_KILL"
    case killProcess = "SCMP_ACT_KILL_PROCESS"
    case trap = "SCMP_ACT_TRAP"
    case log = "SCMP_ACT_LOG"
}

package enum SeccompArchitecture: String, Sendable, Hashable, Codable, CaseIterable {
    case x86_64 = "SCMP_ARCH_X86_64"
    case x86 = "SCMP_ARCH_X86"
    case x32 = "SCMP_ARCH_X32"
    case aarch64 = "SCMP_ARCH_AARCH64"
    case arm = "SCMP_ARCH_ARM"

    /// The architectures a filter for a kernel of `native` must accept: the native one and those whose
    /// binaries that kernel also runs (32-bit x86 and x32 on x86_64, 32-bit ARM on aarch64), as docker lists
    /// them. Other kernels get an empty list, which libseccomp reads as the native architecture alone.
    package static func accepted(on native: KernelArchitecture) -> [SeccompArchitecture] {
        switch native {
        case .x86_64: [.x86_64, .x86, .x32]
        case .aarch64: [.aarch64, .arm]
        case .other: []
        }
    }
}

/// The architecture of the kernel the steps run on; RUN for another platform goes through an emulator
/// that makes the host's system calls, so the filter is always the host's.
package enum KernelArchitecture: Sendable, Hashable {
    case x86_64, aarch64, other

    /// What img itself was compiled for, which is what the kernel executes natively.
    package static var native: KernelArchitecture {
        #if arch(x86_64)
            .x86_64
        #elseif arch(arm64)
            .aarch64
        #else
            .other
        #endif
    }
}

/// One entry of `syscalls`: `action` for the calls `names`, when every one of `args` holds.
package struct SeccompRule: Sendable, Hashable, Codable {
    package var names: [String]
    package var action: SeccompAction
    package var errnoRet: UInt32?
    package var args: [SeccompArgument]?

    package init(_ names: [String], action: SeccompAction = .allow, errnoRet: UInt32? = nil,
                 args: [SeccompArgument]? = nil) {
        self.names = names
        self.action = action
        self.errnoRet = errnoRet
        self.args = args
    }
}

/// A condition on argument `index` of a call: `argument op value` (for `maskedEqual`,
/// `argument & value == valueTwo`).
package struct SeccompArgument: Sendable, Hashable, Codable {
    package var index: UInt32
    package var value: UInt64
    package var valueTwo: UInt64?
    package var op: SeccompOperator

    package init(index: UInt32, value: UInt64, valueTwo: UInt64? = nil, op: SeccompOperator) {
        self.index = index
        self.value = value
        self.valueTwo = valueTwo
        self.op = op
    }
}

package enum SeccompOperator: String, Sendable, Hashable, Codable {
    case notEqual = "SCMP_CMP_NE"
    case lessThan = "SCMP_CMP_LT"
    case lessOrEqual = "SCMP_CMP_LE"
    case equalTo = "SCMP_CMP_EQ"
    case greaterOrEqual = "SCMP_CMP_GE"
    case greaterThan = "SCMP_CMP_GT"
    case maskedEqual = "SCMP_CMP_MASKED_EQ"
}
