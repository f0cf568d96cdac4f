import Glibc
import ImgSystem

extension SnapshotStore {
    /// `auto` probes (really mounts a tiny overlay in a temp dir under `root`) overlayfs, then
    /// fuse-overlayfs, then native; `log` gets "snapshotter: overlayfs (auto)" style lines (and why a backend
    /// was passed over) for --debug. A forced backend that cannot work here is a clear error.
    package static func select(_ choice: BackendChoice, root: String, log: @Sendable (String) -> Void) throws(SnapshotError) -> SnapshotBackend {
        if let forced = choice.forced {
            if let reason = try unavailability(of: forced, root: root) {
                throw SnapshotError(.unavailable, "the \(forced.rawValue) snapshotter cannot work here: \(reason)")
            }
            log("snapshotter: \(forced.rawValue) (forced)")
            return forced
        }
        // The probe's answer is remembered for this kernel and this kind of user: probing mounts and
        // unmounts, which was a tenth of an unchanged rebuild.
        let memo = root + "/auto-backend"
        let identity = autoIdentity()
        if let text = try? SmallTextFile.read(memo) {
            let fields = text.split(separator: "\n").map(String.init)
            if fields.count == 2, fields[0] == identity, let remembered = SnapshotBackend(rawValue: fields[1]),
               remembered != .fuseOverlayfs || access("/dev/fuse", R_OK | W_OK) == 0 {
                log("snapshotter: \(remembered.rawValue) (auto, probed before on this kernel)")
                return remembered
            }
        }
        var chosen = SnapshotBackend.native
        for candidate in [SnapshotBackend.overlayfs, .fuseOverlayfs] {
            if let reason = try unavailability(of: candidate, root: root) {
                log("snapshotter: \(candidate.rawValue) unavailable: \(reason)")
            } else {
                chosen = candidate
                break
            }
        }
        log("snapshotter: \(chosen.rawValue) (auto)")
        // Written whole (temp + rename); a failure only means probing again next time.
        let temporary = memo + ".tmp-\(ProcessOwners.token)"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        if fd >= 0 {
            let bytes = Array((identity + "\n" + chosen.rawValue).utf8)
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
            if written != bytes.count || rename(temporary, memo) != 0 { unlink(temporary) }
        }
        return chosen
    }

    /// What the probe's result depends on: the kernel, and whether img runs as root, in its user namespace
    /// or outside one.
    private static func autoIdentity() -> String {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: name.release) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
        let who = switch UserNamespace.state {
        case .privileged: "root"
        case .inside: "userns"
        case .outside: "outside"
        }
        return "\(release) \(who) \(geteuid())"
    }

    /// Why `backend` cannot work here, or nil when a real mount with a whiteout worked.
    package static func unavailability(of backend: SnapshotBackend, root: String) throws(SnapshotError) -> String? {
        guard backend != .native else { return nil }
        guard UserNamespace.state != .outside else { return "not root (img's user namespace was not entered)" }
        if backend == .fuseOverlayfs {
            guard FuseOverlayProcess.find() != nil else { return "fuse-overlayfs not found on PATH (Debian package fuse-overlayfs)" }
            let fd = open("/dev/fuse", O_RDWR | O_CLOEXEC)
            guard fd >= 0 else {
                return "/dev/fuse cannot be opened (\(String(cString: strerror(errno)))); as root: chmod 0666 /dev/fuse"
            }
            close(fd)
        }
        try makeParents(of: root)
        for directory in [root, root + "/tmp"] {
            guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
                throw SnapshotError(.io, "cannot create \(directory)", cause: SystemError.errno("mkdir"))
            }
        }
        let probe = try makeWorkDirectory("probe", in: root + "/tmp")
        defer { remove(probe) }
        do throws(SnapshotError) {
            for name in ["lower", "upper", "work", "merged", "l"] { try makeDirectory(probe + "/" + name) }
            let file = open(probe + "/lower/gone", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard file >= 0 else { throw SnapshotError(.io, "cannot write the probe", cause: SystemError.errno("open")) }
            close(file)
            // An id other than ours: copy-up of a file the namespace cannot map fails, as the design notes say.
            _ = chown(probe + "/lower/gone", 0, 0)
            var fuse: FuseOverlayProcess?
            let merged = probe + "/merged"
            let (lowers, upper, work) = ([probe + "/lower"], probe + "/upper", probe + "/work")
            if backend == .overlayfs {
                try KernelOverlay.mount(lowers: lowers, upper: upper, work: work, target: merged, scratch: probe + "/l")
            } else {
                fuse = try FuseOverlayProcess.start(lowers: lowers, upper: upper, work: work, target: merged)
            }
            let unlinked = unlink(merged + "/gone") == 0 ? 0 : errno
            if let fuse { fuse.stop() } else if (try? Mount.unmount(merged)) == nil { try? Mount.unmount(merged, detach: true) }
            guard unlinked == 0 else { return "deleting a lower file failed: \(String(cString: strerror(unlinked)))" }
            let upperFD = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            defer { if upperFD >= 0 { close(upperFD) } }
            let status = try? FileStatus.at(upperFD, "gone")
            let device = status.map { $0.kind == .characterDevice && $0.deviceMajor == 0 && $0.deviceMinor == 0 } ?? false
            let xattr = status != nil && (try? ExtendedAttributes.value(at: upperFD, "gone", attribute: "user.overlay.whiteout")) != nil
            guard device || xattr || faccessat(upperFD, ".wh.gone", F_OK, AT_SYMLINK_NOFOLLOW) == 0 else {
                return "a deletion left no whiteout in the upper directory"
            }
            return nil
        } catch {
            return error.description
        }
    }
}
