import CImgShim
import Glibc

/// Entering img's user + mount namespace as an ordinary user.
///
/// The namespace maps uid 0 to the caller and uids 1…65536 to the caller's `/etc/subuid` range (gids likewise
/// from `/etc/subgid`), so that inside it img is root over 65537 ids: it can `chown` unpacked layers, mount
/// overlayfs with `userxattr`, and run runc without a nested user namespace.
///
/// How: `unshare(CLONE_NEWUSER)` refuses a multi-threaded process, and the Swift runtime may have started
/// threads before `main`. So the process that needs the namespace (the *outer* one) re-executes
/// `/proc/self/exe` with the same arguments and the marker variable `_IMG_USERNS_STAGE` holding two pipe
/// descriptors. In the new process (the *inner* one) a C constructor in `CImgShim` runs before anything else:
/// it unshares, reports over the pipe, waits while the outer process runs `newuidmap`/`newgidmap` (setuid
/// helpers: only they may write a multi-range map) on its pid, then becomes uid/gid 0, makes all mounts
/// private and returns into `main`, where `enterIfNeeded()` sees uid 0 and returns. The outer process
/// forwards SIGINT/SIGTERM/SIGHUP/SIGQUIT sent to it and exits as the inner one did.
package enum UserNamespace {
    /// Where the calling process stands.
    package enum State: Sendable, Hashable {
        /// Real root in the initial user namespace: nothing to enter.
        case privileged
        /// uid 0 inside a user namespace (ours, entered by the shim, or one the caller set up).
        case inside
        /// An ordinary user outside: commands that build must enter first.
        case outside
    }

    package static var state: State {
        guard geteuid() == 0 else { return .outside }
        if img_shim_userns_entered() != 0 { return .inside }
        let map = (try? SmallTextFile.read("/proc/self/uid_map")).map(IDMapping.parse(procMap:)) ?? []
        let initial = map == [IDMapping(inside: 0, outside: 0, count: UInt32.max)]
        return initial ? .privileged : .inside
    }

    /// True when this process entered the namespace through the shim's constructor.
    package static var enteredByShim: Bool { img_shim_userns_entered() != 0 }

    /// True when the constructor entered the namespace without a re-exec (`img build` run by an ordinary
    /// user whose subordinate ranges and helpers it found).
    package static var enteredDirectly: Bool { img_shim_userns_entered() == IMG_SHIM_USERNS_DIRECT }

    /// How the ids of img's namespace map onto the outside ones.
    package enum Mapping: Sendable, Hashable {
        /// No namespace of img's: real root, or a namespace the caller set up.
        case none
        /// 0 is the caller, 1… its `/etc/subuid` and `/etc/subgid` ranges (newuidmap/newgidmap).
        case subordinate
        /// Root without CAP_SYS_ADMIN (a container's root): every id it has, onto itself.
        case identity
        /// Only the caller's uid and gid, as 0: no other id exists inside.
        case single
    }

    package static var mapping: Mapping {
        switch img_shim_userns_entered() {
        case IMG_SHIM_USERNS_STAGED, IMG_SHIM_USERNS_DIRECT: .subordinate
        case IMG_SHIM_USERNS_IDENTITY: .identity
        case IMG_SHIM_USERNS_SINGLE: .single
        default: .none
        }
    }

    /// False when a new PID namespace could not get a /proc of its own (the shim found the outer /proc
    /// partly masked, as container runtimes do): RUN steps then share img's processes and its /proc.
    package static var freshProcAllowed: Bool { img_shim_fresh_proc_refused() == 0 }

    /// The outside uid that uid 0 stands for here (the caller's, once in img's namespace).
    package static var outsideUID: UInt32 {
        let map = (try? SmallTextFile.read("/proc/self/uid_map")).map(IDMapping.parse(procMap:)) ?? []
        return map.first { $0.inside == 0 }?.outside ?? getuid()
    }

    /// One line for `-d`: which ids img has inside its namespace, and why.
    package static var mappingDescription: String {
        let map = (try? SmallTextFile.read("/proc/self/uid_map")).map(IDMapping.parse(procMap:)) ?? []
        let ranges = map.map { "\($0.inside)-\(UInt64($0.inside) + UInt64($0.count) - 1) -> \($0.outside)…" }.joined(separator: ", ")
        switch mapping {
        case .none:
            return state == .privileged ? "none (real root)" : "the caller's namespace as it is (\(ranges))"
        case .subordinate: return "subordinate ids from /etc/subuid and /etc/subgid by newuidmap/newgidmap (uids \(ranges))"
        case .identity: return "root without CAP_SYS_ADMIN: the container's own ids onto themselves (uids \(ranges))"
        case .single: return "single id: only uid \(map.first?.outside ?? 0) as 0 (no subordinate range or no newuidmap for this user)"
        }
    }

    /// The facts about the host that decide whether and how the namespace can be entered.
    package struct HostFacts: Sendable, Hashable {
        package var uid: UInt32
        package var gid: UInt32
        package var userName: String?
        package var subuid: SubordinateIDs
        package var subgid: SubordinateIDs
        /// `$PATH`, where `newuidmap`/`newgidmap` are looked up.
        package var searchPath: String
        /// `/proc/sys/user/max_user_namespaces`, if readable.
        package var maxUserNamespaces: Int?
        /// `/proc/sys/kernel/unprivileged_userns_clone` (Debian kernels before 6.x had it), if present.
        package var unprivilegedUsernsClone: Int?

        package init(
            uid: UInt32, gid: UInt32, userName: String?, subuid: SubordinateIDs, subgid: SubordinateIDs,
            searchPath: String, maxUserNamespaces: Int?, unprivilegedUsernsClone: Int?
        ) {
            self.uid = uid
            self.gid = gid
            self.userName = userName
            self.subuid = subuid
            self.subgid = subgid
            self.searchPath = searchPath
            self.maxUserNamespaces = maxUserNamespaces
            self.unprivilegedUsernsClone = unprivilegedUsernsClone
        }

        /// This process's facts.
        package static func current() throws(SystemError) -> HostFacts {
            let uid = getuid()
            var name: String?
            if let entry = getpwuid(uid), let login = entry.pointee.pw_name { name = String(cString: login) }
            func sysctl(_ path: String) -> Int? {
                (try? SmallTextFile.read(path)).flatMap { $0.flatMap { Int($0.filter { !$0.isWhitespace }) } }
            }
            return HostFacts(
                uid: uid, gid: getgid(), userName: name,
                subuid: try SubordinateIDs(contentsOf: SubordinateIDs.uidFile),
                subgid: try SubordinateIDs(contentsOf: SubordinateIDs.gidFile),
                searchPath: getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin",
                maxUserNamespaces: sysctl("/proc/sys/user/max_user_namespaces"),
                unprivilegedUsernsClone: sysctl("/proc/sys/kernel/unprivileged_userns_clone"))
        }
    }

    /// What entering takes: the helpers and the two maps.
    package struct Plan: Sendable, Hashable {
        package var newuidmap: String
        package var newgidmap: String
        package var uidMap: [IDMapping]
        package var gidMap: [IDMapping]
    }

    /// Checks the prerequisites, in the order a user would fix them, and works out the maps.
    package static func plan(_ facts: HostFacts) throws(UserNamespaceError) -> Plan {
        guard let newuidmap = ExecutableLookup.find("newuidmap", searchPath: facts.searchPath) else {
            throw .uidmapMissing("newuidmap")
        }
        guard let newgidmap = ExecutableLookup.find("newgidmap", searchPath: facts.searchPath) else {
            throw .uidmapMissing("newgidmap")
        }
        let user = facts.userName ?? String(facts.uid)
        let uidRanges = facts.subuid.ranges(user: facts.userName, uid: facts.uid)
        guard !uidRanges.isEmpty else { throw .noSubordinateIDs(user: user, file: SubordinateIDs.uidFile) }
        let gidRanges = facts.subgid.ranges(user: facts.userName, uid: facts.uid)
        guard !gidRanges.isEmpty else { throw .noSubordinateIDs(user: user, file: SubordinateIDs.gidFile) }
        if facts.unprivilegedUsernsClone == 0 { throw .disabled("kernel.unprivileged_userns_clone=0") }
        if facts.maxUserNamespaces == 0 { throw .disabled("user.max_user_namespaces=0") }
        return Plan(
            newuidmap: newuidmap, newgidmap: newgidmap,
            uidMap: IDMapping.rootlessMap(caller: facts.uid, ranges: uidRanges),
            gidMap: IDMapping.rootlessMap(caller: facts.gid, ranges: gidRanges))
    }

    /// Makes sure the rest of the calling command runs as root in img's namespace.
    ///
    /// Returns at once when already root (real, or inside). Otherwise it re-executes this program inside the
    /// namespace (see the type's documentation) and never returns: this process exits with the inner one's
    /// status (or dies of its signal). Call it at the start of `main` or of a command, before any output.
    ///
    /// With `privateMountsForRoot`, real root is re-executed too, into a private mount namespace (the C
    /// constructor unshares it before any thread starts), so that snapshot mounts never show on the host.
    package static func enterIfNeeded(arguments: [String] = CommandLine.arguments,
                                      privateMountsForRoot: Bool = false) throws(UserNamespaceError) {
        let state = self.state
        if state == .privileged && privateMountsForRoot && img_shim_private_mounts_entered() == 0 {
            exit(with: try runWithPrivateMounts(arguments: arguments))
        }
        guard state == .outside else { return }
        // The shim already tried at start-up and the kernel said no: the re-exec would only hear it again.
        let refused = img_shim_userns_refused_errno()
        if refused != 0 { throw .refused(refused) }
        let facts: HostFacts
        do { facts = try HostFacts.current() } catch {
            throw UserNamespaceError(.startFailed, "cannot read the user's subordinate ids: \(error)", cause: error)
        }
        let status = try runInside(plan(facts), arguments: arguments)
        exit(with: status)
    }

    /// True when this process moved into a private mount namespace through the shim (real root).
    package static var privateMountsByShim: Bool { img_shim_private_mounts_entered() != 0 }

    /// Re-executes `/proc/self/exe` with `arguments` in a private mount namespace (real root only), forwards
    /// signals to it and returns how it ended.
    package static func runWithPrivateMounts(
        arguments: [String], environment: [String] = ChildProcess.currentEnvironment
    ) throws(UserNamespaceError) -> ProcessStatus {
        let marker = "\(IMG_SHIM_PRIVATE_MOUNTS_ENV)="
        let child: ChildProcess
        do {
            child = try ChildProcess(
                executable: "/proc/self/exe", argv0: arguments.first, arguments: Array(arguments.dropFirst()),
                environment: environment.filter { !$0.hasPrefix(marker) } + [marker + "1"],
                stdin: .inherit, stdout: .inherit, stderr: .inherit)
        } catch {
            throw UserNamespaceError(.startFailed, "cannot re-execute img in a private mount namespace: \(error)", cause: error)
        }
        let status = img_shim_wait_forwarding_signals(child.pid)
        guard status >= 0 else { throw startFailed(.errno("wait for the re-executed img")) }
        return ProcessStatus(waitStatus: status)
    }

    /// Re-executes `/proc/self/exe` with `arguments` (argv, including argv[0]) inside a new namespace set up
    /// by `plan`, forwards signals to it and returns how it ended.
    package static func runInside(
        _ plan: Plan, arguments: [String], environment: [String] = ChildProcess.currentEnvironment
    ) throws(UserNamespaceError) -> ProcessStatus {
        var toParent: [Int32] = [-1, -1]
        var fromParent: [Int32] = [-1, -1]
        guard img_shim_pipe_cloexec(&toParent) == 0 else { throw startFailed(.errno("pipe")) }
        guard img_shim_pipe_cloexec(&fromParent) == 0 else {
            close(toParent[0])
            close(toParent[1])
            throw startFailed(.errno("pipe"))
        }
        var parentRead = toParent[0]
        var parentWrite = fromParent[1]
        defer {
            if parentRead >= 0 { close(parentRead) }
            if parentWrite >= 0 { close(parentWrite) }
        }
        let marker = "\(IMG_SHIM_USERNS_STAGE_ENV)="
        let childEnvironment = environment.filter { !$0.hasPrefix(marker) } + ["\(marker)\(toParent[1]),\(fromParent[0])"]
        let child: ChildProcess
        do {
            child = try ChildProcess(
                executable: "/proc/self/exe", argv0: arguments.first, arguments: Array(arguments.dropFirst()),
                environment: childEnvironment, stdin: .inherit, stdout: .inherit, stderr: .inherit,
                keep: [toParent[1], fromParent[0]])
        } catch {
            close(toParent[1])
            close(fromParent[0])
            throw startFailed(error)
        }
        close(toParent[1])
        close(fromParent[0])

        // 1. The child's unshare result.
        var unshareError: Int32 = 0
        let got = withUnsafeMutableBytes(of: &unshareError) { readFully(parentRead, $0) }
        guard got else {
            let status = try? child.wait()
            throw UserNamespaceError(.startFailed, "the re-executed img ended before entering the user namespace (\(status.map { "\($0)" } ?? "unknown status"))")
        }
        if unshareError != 0 {
            _ = try? child.wait()
            let reason = String(cString: strerror(unshareError))
            switch unshareError {
            case EPERM, ENOSPC, EUSERS, EACCES:
                throw .refused(unshareError)
            default:
                throw UserNamespaceError(.startFailed, "unshare(CLONE_NEWUSER|CLONE_NEWNS) failed: \(reason)")
            }
        }

        // 2. The maps, written by the setuid helpers.
        for (tool, map) in [(plan.newuidmap, plan.uidMap), (plan.newgidmap, plan.gidMap)] {
            let result: (status: ProcessStatus, stdout: String, stderr: String)
            do {
                result = try ChildProcess.collect(executable: tool, arguments: [String(child.pid)] + IDMapping.arguments(map))
            } catch {
                abandon(child, &parentWrite)
                throw UserNamespaceError(.mappingFailed, "cannot run \(tool): \(error)", cause: error)
            }
            guard result.status.isSuccess else {
                abandon(child, &parentWrite)
                let detail = result.stderr.split(separator: "\n").last.map(String.init) ?? "\(result.status)"
                throw UserNamespaceError.mappingFailed(tool: tool, detail: detail)
            }
        }

        // 3. Go, then wait as a signal-forwarding bystander.
        var go: UInt8 = UInt8(ascii: "g")
        guard write(parentWrite, &go, 1) == 1 else {
            abandon(child, &parentWrite)
            throw startFailed(.errno("signal the re-executed img"))
        }
        close(parentWrite)
        parentWrite = -1
        close(parentRead)
        parentRead = -1
        child.closePipes()
        let status = img_shim_wait_forwarding_signals(child.pid)
        guard status >= 0 else { throw startFailed(.errno("wait for the re-executed img")) }
        return ProcessStatus(waitStatus: status)
    }

    /// Ends this process the way `status` ended the inner one.
    package static func exit(with status: ProcessStatus) -> Never {
        switch status {
        case .exited(let code):
            Glibc.exit(code)
        case .signaled(let signal):
            Glibc.signal(signal, SIG_DFL)
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, signal)
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
            raise(signal)
            Glibc.exit(128 + signal)
        }
    }

    private static func startFailed(_ error: SystemError) -> UserNamespaceError {
        UserNamespaceError(.startFailed, "cannot re-execute img in a user namespace: \(error)", cause: error)
    }

    /// Tells the child to give up (end of file on its pipe) and reaps it.
    private static func abandon(_ child: ChildProcess, _ parentWrite: inout Int32) {
        if parentWrite >= 0 { close(parentWrite) }
        parentWrite = -1
        _ = try? child.wait()
    }

    private static func readFully(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Bool {
        var offset = 0
        while offset < buffer.count {
            let count = read(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if count > 0 {
                offset += count
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                return false
            }
        }
        return true
    }
}
