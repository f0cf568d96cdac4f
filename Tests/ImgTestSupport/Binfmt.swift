// Binfmt.swift owns the emulation tests' use of the kernel's binfmt_misc: Debian's qemu-user-static handlers
// registered (or switched off) for one test, and the host's previous state put back after.
import Foundation
import Glibc
import ImgOCI
import ImgSystem

/// binfmt_misc for a test. The handlers are the kernel's, shared by every process on the machine, so each
/// change is made under one cross-process lock and undone when the body returns or throws: a test never
/// leaves an emulator registered, unregistered, mounted or switched off that was not so before.
package enum Binfmt {
    package static let directory = "/proc/sys/fs/binfmt_misc"
    /// Debian's registration lines (`:qemu-aarch64:M::magic:mask:interpreter:OPF`): the F flag opens the
    /// interpreter now, so it works inside a container's root and a user namespace.
    static func configuration(_ handler: String) -> String { "/usr/lib/binfmt.d/\(handler).conf" }

    /// The qemu handler that runs `architecture`'s programs (img's names: arm64, arm, ...).
    package static func handler(for architecture: String) -> String {
        Platform.qemuHandler(architecture: architecture)
    }

    /// Runs `body` with `handlers` (e.g. `qemu-aarch64`) registered and enabled: mounts binfmt_misc if it is
    /// not, registers the missing ones from Debian's files, enables disabled ones; then undoes exactly that.
    package static func withEmulators<T>(_ handlers: [String], _ body: () async throws -> T) async throws -> T {
        let lock = try await Lock()
        defer { lock.unlock() }
        var undo: [() -> Void] = []
        defer { for step in undo.reversed() { step() } }
        if !isMounted {
            try host("/bin/mount", "-t", "binfmt_misc", "binfmt_misc", directory)
            undo.append { _ = try? host("/bin/umount", directory) }
        }
        for handler in handlers {
            switch state(handler) {
            case .enabled: continue
            case .disabled:
                try write("1", to: "\(directory)/\(handler)")
                undo.append { try? write("0", to: "\(directory)/\(handler)") }
            case .absent:
                let line = try String(contentsOfFile: configuration(handler), encoding: .utf8)
                    .split(separator: "\n").first { $0.hasPrefix(":") }
                guard let line else { throw TestFailure("\(configuration(handler)) has no registration line") }
                try write(String(line), to: "\(directory)/register")
                undo.append { try? write("-1", to: "\(directory)/\(handler)") }
            }
        }
        return try await body()
    }

    /// Runs `body` with `handler` not running anything: switched off if it is registered and enabled, and
    /// switched back on after.
    package static func withoutEmulator<T>(_ handler: String, _ body: () async throws -> T) async throws -> T {
        let lock = try await Lock()
        defer { lock.unlock() }
        var wasEnabled = false
        if isMounted, state(handler) == .enabled {
            try write("0", to: "\(directory)/\(handler)")
            wasEnabled = true
        }
        defer { if wasEnabled { try? write("1", to: "\(directory)/\(handler)") } }
        return try await body()
    }

    /// The machine-wide lock every change to binfmt_misc by a test is made under (test processes of several
    /// checkouts may run at once). Polled, so a waiting test does not hold one of the few pool threads.
    final class Lock {
        private var fd: Int32
        init() async throws {
            fd = open("/tmp/img-tests-binfmt.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw TestFailure("open /tmp/img-tests-binfmt.lock: \(String(cString: strerror(errno)))") }
            while flock(fd, LOCK_EX | LOCK_NB) != 0 {
                guard errno == EWOULDBLOCK || errno == EINTR else {
                    close(fd)
                    throw TestFailure("lock /tmp/img-tests-binfmt.lock: \(String(cString: strerror(errno)))")
                }
                do { try await Task.sleep(for: .milliseconds(100)) } catch { close(fd); throw error }
            }
        }
        func unlock() {
            guard fd >= 0 else { return }
            close(fd)
            fd = -1
        }
        deinit { unlock() }
    }

    enum State { case absent, disabled, enabled }

    static var isMounted: Bool { access("\(directory)/register", F_OK) == 0 }

    static func state(_ handler: String) -> State {
        guard let text = try? String(contentsOfFile: "\(directory)/\(handler)", encoding: .utf8) else { return .absent }
        return text.hasPrefix("enabled") ? .enabled : .disabled
    }

    private static func write(_ text: String, to path: String) throws {
        // One write(2): binfmt_misc takes a registration or a command per write.
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TestFailure("open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard Glibc.write(fd, bytes, bytes.count) == bytes.count else {
            throw TestFailure("write \(text) to \(path): \(String(cString: strerror(errno)))")
        }
    }
}

extension Prerequisite {
    /// Debian's qemu-user-static with its binfmt_misc registrations for arm64 and arm (root writes them).
    package static let qemuUserStatic = Prerequisite(
        "qemu-user-static's binfmt_misc handlers for arm64 and arm, and root to register them (Debian package qemu-user-static)"
    ) {
        let files = ["qemu-aarch64", "qemu-arm"].map(Binfmt.configuration)
        return geteuid() == 0 && files.allSatisfy({ access($0, R_OK) == 0 }) ? files[0] : nil
    }

    /// Debian's static busybox for `arch` (arm64, armhf), which scripts/deps extracts from busybox-static:ARCH.
    package static func foreignBusybox(_ arch: String) -> Prerequisite {
        let path = "/usr/local/lib/img-tests/\(arch)/busybox"
        return Prerequisite("\(path) (busybox-static:\(arch) from Debian, extracted by scripts/deps)") {
            access(path, X_OK) == 0 ? path : nil
        }
    }
}
