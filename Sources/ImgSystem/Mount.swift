import CImgShim
import Glibc
package import ImgErrors

/// `mount(2)` flags img uses.
package struct MountFlags: OptionSet, Sendable, Hashable {
    package let rawValue: UInt
    package init(rawValue: UInt) { self.rawValue = rawValue }

    package static let readOnly = MountFlags(rawValue: UInt(MS_RDONLY))
    package static let noSUID = MountFlags(rawValue: UInt(MS_NOSUID))
    package static let noDev = MountFlags(rawValue: UInt(MS_NODEV))
    package static let noExec = MountFlags(rawValue: UInt(MS_NOEXEC))
    package static let remount = MountFlags(rawValue: UInt(MS_REMOUNT))
    package static let bind = MountFlags(rawValue: UInt(MS_BIND))
    package static let recursive = MountFlags(rawValue: UInt(MS_REC))
    package static let `private` = MountFlags(rawValue: UInt(MS_PRIVATE))
    package static let slave = MountFlags(rawValue: UInt(MS_SLAVE))
    package static let shared = MountFlags(rawValue: UInt(MS_SHARED))
}

/// A failed mount or unmount: what was asked and the kernel's answer.
package struct MountError: ImgError, Hashable {
    package enum Operation: String, Sendable, Hashable {
        case mount, unmount
    }

    package var operation: Operation
    package var target: String
    /// The filesystem type or "bind", for the message.
    package var kind: String
    package var code: Int32

    package init(operation: Operation, target: String, kind: String, code: Int32) {
        self.operation = operation
        self.target = target
        self.kind = kind
        self.code = code
    }

    package var errorCode: String { "\(operation.rawValue)-failed" }
    package var underlyingError: (any Error)? { SystemError(operation: operation.rawValue, code: code) }

    package var description: String {
        let reason = String(cString: strerror(code))
        switch operation {
        case .mount:
            var text = "mount \(kind) on \(target): \(reason)"
            if code == EPERM && geteuid() != 0 { text += " (not root: enter img's user namespace first)" }
            return text
        case .unmount:
            return "unmount \(target): \(reason)"
        }
    }
}

/// Thin typed wrappers over `mount(2)`/`umount2(2)`.
package enum Mount {
    /// `mount(source, target, type, flags, data)`.
    package static func mount(
        source: String?, target: String, type: String?, flags: MountFlags = [], data: String? = nil
    ) throws(MountError) {
        let result = data.withOptionalCString { dataPointer in
            Glibc.mount(source, target, type, flags.rawValue, dataPointer)
        }
        guard result == 0 else {
            throw MountError(operation: .mount, target: target, kind: type ?? (flags.contains(.bind) ? "bind" : "none"), code: errno)
        }
    }

    /// A bind mount of `source` on `target` (recursive unless told otherwise). Read-only takes the second,
    /// remounting call the kernel requires; inside a user namespace the flags that are locked on the source
    /// (nosuid, nodev, noexec) are carried over, or the kernel refuses the remount.
    package static func bind(source: String, target: String, readOnly: Bool = false, recursive: Bool = true) throws(MountError) {
        var flags: MountFlags = [.bind]
        if recursive { flags.insert(.recursive) }
        try mount(source: source, target: target, type: nil, flags: flags)
        guard readOnly else { return }
        // statvfs(3) f_flag bits (ST_NOSUID, ST_NODEV, ST_NOEXEC): not all are visible to Swift.
        var locked: MountFlags = []
        var info = statvfs()
        if statvfs(target, &info) == 0 {
            if info.f_flag & 2 != 0 { locked.insert(.noSUID) }
            if info.f_flag & 4 != 0 { locked.insert(.noDev) }
            if info.f_flag & 8 != 0 { locked.insert(.noExec) }
        }
        let remount: MountFlags = [.bind, .remount, .readOnly]
        do {
            try mount(source: nil, target: target, type: nil, flags: remount.union(locked))
        } catch {
            try? unmount(target, detach: true)
            throw error
        }
    }

    /// A tmpfs on `target`; `options` is the data string (`mode=755,size=64m`).
    package static func tmpfs(target: String, options: String? = nil, flags: MountFlags = [.noSUID, .noDev]) throws(MountError) {
        try mount(source: "tmpfs", target: target, type: "tmpfs", flags: flags, data: options)
    }

    /// An overlayfs on `target`. `lower` is top-most first. Inside a user namespace (not real root), the
    /// `userxattr` option is added: overlayfs then keeps its metadata in `user.overlay.*` xattrs, the only
    /// ones an unprivileged namespace may write. An empty `upper` makes a read-only overlay (then at least
    /// two lower directories are needed).
    package static func overlay(
        lower: [String], upper: String?, work: String?, target: String, userXattr: Bool? = nil
    ) throws(MountError) {
        var options = ["lowerdir=" + lower.map(escapeOverlayPath).joined(separator: ":")]
        if let upper, let work {
            options.append("upperdir=" + escapeOverlayPath(upper))
            options.append("workdir=" + escapeOverlayPath(work))
        }
        if userXattr ?? (UserNamespace.state == .inside) { options.append("userxattr") }
        try mount(source: "overlay", target: target, type: "overlay", data: options.joined(separator: ","))
    }

    /// `mount(2)` with relative paths in `data` resolved in `directory` (a forked child changes its working
    /// directory and mounts; this process's, shared by all threads, stays). Overlayfs reads its options
    /// from one page, so long lowerdir lists need short relative names.
    package static func mount(
        inDirectory directory: String, source: String?, target: String, type: String?, flags: MountFlags = [], data: String? = nil
    ) throws(MountError) {
        let code = data.withOptionalCString { dataPointer in
            img_shim_mount_in_directory(directory, source, target, type, flags.rawValue, dataPointer?.assumingMemoryBound(to: CChar.self))
        }
        guard code == 0 else {
            throw MountError(operation: .mount, target: target, kind: type ?? (flags.contains(.bind) ? "bind" : "none"), code: code)
        }
    }

    /// Changes the propagation of `target` (recursively by default) to private: nothing mounted under it
    /// leaks to other mount namespaces, or from them.
    package static func makePrivate(_ target: String = "/", recursive: Bool = true) throws(MountError) {
        try mount(source: nil, target: target, type: nil, flags: recursive ? [.private, .recursive] : [.private])
    }

    /// `umount2(target)`; `detach` is `MNT_DETACH` (lazy: gone from the tree now, freed when unused).
    package static func unmount(_ target: String, detach: Bool = false) throws(MountError) {
        var result: Int32
        repeat { result = umount2(target, detach ? Int32(MNT_DETACH) : 0) } while result != 0 && errno == EINTR
        guard result == 0 else { throw MountError(operation: .unmount, target: target, kind: "", code: errno) }
    }

    /// Overlayfs splits its options on `,` and lower directories on `:`; both, and `\`, are escaped with `\`.
    static func escapeOverlayPath(_ path: String) -> String {
        var escaped = ""
        for character in path {
            if character == "\\" || character == ":" || character == "," { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}

/// One line of `/proc/self/mountinfo`.
package struct MountInfoEntry: Sendable, Hashable {
    package var mountID: Int
    package var parentID: Int
    /// Where it is mounted, with the kernel's octal escapes (`\040` for space) decoded.
    package var mountPoint: String
    package var options: String
    package var filesystemType: String
    package var source: String

    /// The current mount table of this process's mount namespace.
    package static func current() throws(SystemError) -> [MountInfoEntry] {
        parse(try SmallTextFile.read("/proc/self/mountinfo") ?? "")
    }

    package static func parse(_ text: String) -> [MountInfoEntry] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count >= 10, let separator = fields.firstIndex(of: "-"), separator + 2 < fields.count,
                let mountID = Int(fields[0]), let parentID = Int(fields[1])
            else { return nil }
            return MountInfoEntry(
                mountID: mountID, parentID: parentID, mountPoint: unescape(fields[4]), options: String(fields[5]),
                filesystemType: String(fields[separator + 1]), source: unescape(fields[separator + 2]))
        }
    }

    private static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        let utf8 = Array(field.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count,
                let value = UInt8(String(decoding: utf8[(index + 1)...(index + 3)], as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Optional where Wrapped == String {
    fileprivate func withOptionalCString<Result>(_ body: (UnsafeRawPointer?) -> Result) -> Result {
        switch self {
        case .some(let string): string.withCString { body(UnsafeRawPointer($0)) }
        case .none: body(nil)
        }
    }
}
