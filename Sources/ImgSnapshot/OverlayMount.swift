import Foundation
import Glibc
import ImgSystem
import Synchronization

/// The kernel's overlayfs over a stack of layer directories.
enum KernelOverlay {
    /// Options every mount gets: `userxattr` so the same layer directories (user.overlay.* markers) serve
    /// real root and img's user namespace, and the features that would put overlay-private metadata in the
    /// upper directory instead of whole files (redirects, metacopy) off, so the upper is a plain diff. (With
    /// userxattr the kernel refuses `redirect_dir=off`, which it reads as "follow"; `nofollow` is the off it allows.)
    static let fixedOptions = ["userxattr", "redirect_dir=nofollow", "metacopy=off", "index=off"]

    /// Mounts `lowers` (top-most first) with `upper` and `work` on `target`. `scratch` (an empty directory
    /// of the caller's) gets short symlinks to the lower directories, and the mount runs with it as working
    /// directory, so that ~1,000 layers fit the one page overlayfs reads its options from.
    ///
    /// With `volatile` (Linux 5.10+, as buildah mounts its build containers) overlayfs skips every sync of
    /// the upper file system, above all the `syncfs` at unmount that wrote out a whole COPY or RUN before the
    /// step could end; the snapshot store makes up for it (see `SnapshotStore.markUnsynced`). Returns whether
    /// the kernel took it.
    @discardableResult
    static func mount(lowers: [String], upper: String, work: String, target: String, scratch: String,
                      volatile: Bool = true) throws(SnapshotError) -> Bool {
        precondition(!lowers.isEmpty, "overlayfs needs a lower directory")
        var names: [String] = []
        for (index, lower) in lowers.enumerated() {
            let name = String(index, radix: 36)
            guard symlink(lower, scratch + "/" + name) == 0 else {
                throw SnapshotError(.io, "cannot prepare the overlay mount", cause: SystemError.errno("symlink \(scratch)/\(name)"))
            }
            names.append(name)
        }
        let options = ["lowerdir=" + names.joined(separator: ":"), "upperdir=" + escape(upper), "workdir=" + escape(work)] + fixedOptions
        // A kernel before 5.10 does not know `volatile` (EINVAL): then without it.
        for withVolatile in volatile ? [true, false] : [false] {
            do {
                try Mount.mount(inDirectory: scratch, source: "overlay", target: target, type: "overlay",
                                data: (options + (withVolatile ? ["volatile"] : [])).joined(separator: ","))
                return withVolatile
            } catch {
                if withVolatile && error.code == EINVAL { continue }
                throw SnapshotError(.mount, "cannot mount overlayfs on \(target)", cause: error)
            }
        }
        return false
    }

    static func escape(_ path: String) -> String {
        var escaped = ""
        for character in path {
            if character == "\\" || character == ":" || character == "," { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}

/// A running `fuse-overlayfs -f` serving one mount. It is our child: `stop` unmounts, and waits for it
/// (killing it if it lingers), so none is left behind.
final class FuseOverlayProcess: Sendable {
    let pid: Int32
    let target: String
    private let output = Mutex<[UInt8]>([])
    private let exited = Mutex<Int32?>(nil)

    static let executableName = "fuse-overlayfs"

    static func find() -> String? {
        ExecutableLookup.find(executableName) ?? ExecutableLookup.find(executableName, searchPath: "/usr/local/bin:/usr/bin:/bin")
    }

    /// Starts it and returns once the mount is in place.
    static func start(lowers: [String], upper: String, work: String, target: String, timeout: Double = 20) throws(SnapshotError) -> FuseOverlayProcess {
        guard let executable = find() else {
            throw SnapshotError(.unavailable, "fuse-overlayfs not found on PATH: install Debian package fuse-overlayfs")
        }
        let options = "lowerdir=" + lowers.map(KernelOverlay.escape).joined(separator: ":") + ",upperdir=" + KernelOverlay.escape(upper)
            + ",workdir=" + KernelOverlay.escape(work)
            // Container processes run as other ids than the mounter (root): FUSE refuses them without it.
            + ",allow_other"
        let child: ChildProcess
        do {
            child = try ChildProcess(executable: executable, arguments: ["-f", "-o", options, target],
                                     environment: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                                     stdin: .null, stdout: .pipe, stderr: .pipe)
        } catch {
            throw SnapshotError(.mount, "cannot start fuse-overlayfs", cause: error)
        }
        let process = FuseOverlayProcess(pid: child.pid, target: target)
        // Its output is drained for its whole life (a full pipe would stall it) and kept for errors.
        Thread.detachNewThread {
            child.drainOutput { _, bytes in
                process.output.withLock { kept in
                    let room = max(0, 8192 - kept.count)
                    kept += bytes.prefix(room)
                }
            }
            child.closePipes()
        }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if process.reap() != nil {
                throw SnapshotError(.mount, "fuse-overlayfs could not mount \(target): \(process.errorText)")
            }
            if (try? MountInfoEntry.current())?.contains(where: { $0.mountPoint == target && $0.filesystemType.hasPrefix("fuse") }) == true {
                return process
            }
            usleep(5_000)
        }
        process.stop()
        throw SnapshotError(.mount, "fuse-overlayfs did not mount \(target) within \(Int(timeout)) s: \(process.errorText)")
    }

    private init(pid: Int32, target: String) {
        self.pid = pid
        self.target = target
    }

    var errorText: String {
        let text = output.withLock { String(decoding: $0, as: UTF8.self) }
        let lines = text.split(whereSeparator: \.isNewline).filter { !$0.contains("unknown argument ignored") }
        return lines.isEmpty ? "no message" : lines.joined(separator: "; ")
    }

    /// The exit status once it has ended (reaped here), else nil.
    @discardableResult
    func reap() -> Int32? {
        exited.withLock { (status: inout Int32?) -> Int32? in
            if let status { return status }
            var raw: Int32 = 0
            let done = waitpid(pid, &raw, WNOHANG)
            if done == pid || (done < 0 && errno == ECHILD) { status = raw }
            return status
        }
    }

    /// Unmounts (which ends the process) and waits for it; kills it if it does not end.
    func stop(timeout: Double = 10) {
        if reap() == nil {
            if (try? Mount.unmount(target)) == nil { try? Mount.unmount(target, detach: true) }
        }
        let deadline = Date().addingTimeInterval(timeout)
        while reap() == nil && Date() < deadline { usleep(2_000) }
        if reap() == nil {
            kill(pid, SIGKILL)
            while reap() == nil { usleep(2_000) }
        }
    }
}
