import Glibc

extension SeccompProfile {
    /// The filter docker (and BuildKit) give a container by default, for a step holding `capabilities`.
    ///
    /// An allowlist: a call no rule names fails with EPERM. What the kernel would only refuse for lack of a
    /// capability is admitted exactly when the step holds it, so the filter never takes away what the
    /// capability set grants; what stays out is what no build step needs and whose kernel code has been a
    /// way out of containers before: new namespaces (`unshare`, `clone` with `CLONE_NEW*`, `setns`),
    /// `mount`, keyrings, `bpf`, `userfaultfd`, kernel modules, `reboot`, `personality` beyond the standard
    /// ones. `clone3` gets ENOSYS instead of EPERM without `CAP_SYS_ADMIN`: its flags are behind a pointer
    /// the filter cannot read, and ENOSYS makes glibc fall back to `clone`, whose flags it can.
    package static func dockerDefault(
        capabilities: Set<Capability>, architecture: KernelArchitecture = .native, kernel: KernelVersion = .running
    ) -> SeccompProfile {
        var rules = [SeccompRule(Self.alwaysAllowed)]
        // Before 4.8 a filter could be bypassed with ptrace, so docker then kept it behind CAP_SYS_PTRACE.
        if kernel >= KernelVersion(major: 4, minor: 8) {
            rules.append(SeccompRule(["ptrace", "process_vm_readv", "process_vm_writev"]))
        }
        // Any socket but vsock, which talks to the hypervisor rather than the network.
        rules.append(SeccompRule(["socket"], args: [SeccompArgument(index: 0, value: UInt64(AF_VSOCK), op: .notEqual)]))
        // Linux, 32-bit Linux and the uname-2.6 compatibility flag (alone or together), and the query
        // 0xffffffff; other personalities switch off address randomisation or change syscall semantics.
        for persona: UInt64 in [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff] {
            rules.append(SeccompRule(["personality"], args: [SeccompArgument(index: 0, value: persona, op: .equalTo)]))
        }
        switch architecture {
        case .x86_64:
            rules.append(SeccompRule(["arch_prctl", "modify_ldt"]))
        case .aarch64:
            rules.append(SeccompRule([
                "arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls",
            ]))
        case .other:
            break
        }
        for (capability, names) in Self.capabilityGated where capabilities.contains(capability) {
            rules.append(SeccompRule(names))
        }
        if !capabilities.contains(.sysAdmin) {
            // Threads and plain forks, but no new namespaces: flags are clone's first argument on the
            // architectures img builds for (s390 swaps the first two, and is not one of them).
            rules.append(SeccompRule(["clone"], args: [
                SeccompArgument(index: 0, value: Self.newNamespaceFlags, valueTwo: 0, op: .maskedEqual),
            ]))
            rules.append(SeccompRule(["clone3"], action: .errno, errnoRet: UInt32(ENOSYS)))
        }
        return SeccompProfile(
            defaultAction: .errno, defaultErrnoRet: UInt32(EPERM), architectures: SeccompArchitecture.accepted(on: architecture),
            syscalls: rules)
    }

    /// `CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP`.
    package static let newNamespaceFlags: UInt64 = 0x0002_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000
        | 0x4000_0000 | 0x0200_0000

    /// Calls whose every use the kernel already keeps inside the container's namespaces and capabilities.
    /// Names libseccomp does not know on this architecture (the 32-bit variants on a 64-bit one, say) are
    /// skipped by runc.
    static let alwaysAllowed: [String] = [
        // Files and directories.
        "access", "faccessat", "faccessat2", "chdir", "fchdir", "getcwd", "chmod", "fchmod", "fchmodat",
        "chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32", "creat", "open", "openat",
        "openat2", "close", "close_range", "dup", "dup2", "dup3", "fcntl", "fcntl64", "flock", "link", "linkat",
        "symlink", "symlinkat", "readlink", "readlinkat", "mkdir", "mkdirat", "mknod", "mknodat", "rename",
        "renameat", "renameat2", "rmdir", "unlink", "unlinkat", "stat", "stat64", "lstat", "lstat64", "fstat",
        "fstat64", "fstatat64", "newfstatat", "statx", "statfs", "statfs64", "fstatfs", "fstatfs64", "getdents",
        "getdents64", "truncate", "truncate64", "ftruncate", "ftruncate64", "fallocate", "umask", "utime",
        "utimes", "utimensat", "utimensat_time64", "futimesat", "name_to_handle_at",
        // Reading, writing, syncing.
        "read", "readv", "pread64", "preadv", "preadv2", "write", "writev", "pwrite64", "pwritev", "pwritev2",
        "lseek", "_llseek", "sendfile", "sendfile64", "splice", "tee", "vmsplice", "copy_file_range",
        "readahead", "fadvise64", "fadvise64_64", "fsync", "fdatasync", "sync", "syncfs", "sync_file_range",
        "ioctl",
        // Extended attributes.
        "getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr", "fsetxattr", "listxattr", "llistxattr",
        "flistxattr", "removexattr", "lremovexattr", "fremovexattr",
        // Waiting for descriptors and events.
        "select", "_newselect", "pselect6", "pselect6_time64", "poll", "ppoll", "ppoll_time64", "epoll_create",
        "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_wait", "epoll_wait_old", "epoll_pwait",
        "epoll_pwait2", "eventfd", "eventfd2", "signalfd", "signalfd4", "timerfd_create", "timerfd_gettime",
        "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "inotify_init", "inotify_init1",
        "inotify_add_watch", "inotify_rm_watch", "fanotify_mark", "pipe", "pipe2",
        // Asynchronous I/O.
        "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
        "io_pgetevents_time64", "io_uring_setup", "io_uring_enter", "io_uring_register",
        // Memory.
        "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync", "mlock",
        "mlock2", "mlockall", "munlock", "munlockall", "remap_file_pages", "membarrier", "memfd_create",
        "memfd_secret", "pkey_alloc", "pkey_free", "pkey_mprotect",
        // Processes and threads (clone is below: only some of its flags).
        "execve", "execveat", "exit", "exit_group", "fork", "vfork", "wait4", "waitid", "waitpid", "kill",
        "tkill", "tgkill", "pidfd_open", "pidfd_send_signal", "getpid", "getppid", "gettid", "getpgid",
        "setpgid", "getpgrp", "getsid", "setsid", "set_tid_address", "restart_syscall", "rseq", "prctl",
        "seccomp", "capget", "capset", "getpriority", "setpriority", "ioprio_get", "ioprio_set", "getrlimit",
        "setrlimit", "ugetrlimit", "prlimit64", "getrusage", "times", "sysinfo", "uname", "getcpu", "getrandom",
        "get_robust_list", "set_robust_list", "get_thread_area", "set_thread_area", "process_mrelease",
        "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self", "futex", "futex_time64",
        "futex_waitv",
        // Scheduling.
        "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getattr", "sched_setattr",
        "sched_getparam", "sched_setparam", "sched_getscheduler", "sched_setscheduler",
        "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval",
        "sched_rr_get_interval_time64",
        // User and group ids (the kernel checks CAP_SETUID/CAP_SETGID itself).
        "getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid", "getegid32", "getresuid",
        "getresuid32", "getresgid", "getresgid32", "getgroups", "getgroups32", "setuid", "setuid32", "setgid",
        "setgid32", "setreuid", "setreuid32", "setregid", "setregid32", "setresuid", "setresuid32", "setresgid",
        "setresgid32", "setfsuid", "setfsuid32", "setfsgid", "setfsgid32", "setgroups", "setgroups32",
        // Signals.
        "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
        "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "sigaltstack",
        "sigprocmask", "sigreturn", "pause", "alarm",
        // Clocks and timers (setting the clock needs CAP_SYS_TIME, below).
        "time", "gettimeofday", "clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64",
        "clock_nanosleep", "clock_nanosleep_time64", "nanosleep", "clock_adjtime", "clock_adjtime64",
        "adjtimex", "getitimer", "setitimer", "timer_create", "timer_delete", "timer_getoverrun",
        "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
        // Sockets (socket itself is below: any family but vsock).
        "accept", "accept4", "bind", "connect", "listen", "getpeername", "getsockname", "getsockopt",
        "setsockopt", "recv", "recvfrom", "recvmsg", "recvmmsg", "recvmmsg_time64", "send", "sendto", "sendmsg",
        "sendmmsg", "shutdown", "socketpair", "socketcall",
        // System V IPC and POSIX message queues, in the container's IPC namespace.
        "ipc", "msgctl", "msgget", "msgrcv", "msgsnd", "semctl", "semget", "semop", "semtimedop",
        "semtimedop_time64", "shmat", "shmctl", "shmdt", "shmget", "mq_open", "mq_unlink", "mq_getsetattr",
        "mq_notify", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64",
    ]

    /// Calls admitted only with a capability, because what they do is that capability's.
    static let capabilityGated: [(Capability, [String])] = [
        (.dacReadSearch, ["open_by_handle_at"]),
        (.sysAdmin, [
            "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie",
            "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open", "quotactl", "quotactl_fd",
            "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2", "unshare",
        ]),
        (.sysBoot, ["reboot"]),
        (.sysChroot, ["chroot"]),
        (.sysModule, ["init_module", "finit_module", "delete_module"]),
        (.sysPacct, ["acct"]),
        (.sysPtrace, ["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"]),
        (.sysRawio, ["iopl", "ioperm"]),
        (.sysTime, ["settimeofday", "stime", "clock_settime", "clock_settime64"]),
        (.sysTtyConfig, ["vhangup"]),
        (.sysNice, ["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"]),
        (.syslog, ["syslog"]),
        (.bpf, ["bpf"]),
        (.perfmon, ["perf_event_open"]),
    ]
}

/// A kernel release's major and minor numbers.
package struct KernelVersion: Sendable, Hashable, Comparable {
    package var major: Int
    package var minor: Int

    package init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// The running kernel's, from uname; a release that does not parse counts as new.
    package static var running: KernelVersion {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let numbers = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard numbers.count == 2 else { return KernelVersion(major: Int.max, minor: 0) }
        return KernelVersion(major: numbers[0], minor: numbers[1])
    }

    package static func < (lhs: KernelVersion, rhs: KernelVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }
}
