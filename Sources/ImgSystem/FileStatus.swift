package import Glibc

/// What `lstat` says about one file, in typed form. Taken without following a final symlink.
package struct FileStatus: Sendable, Hashable {
    package enum Kind: String, Sendable, Hashable {
        case regular, directory, symlink, characterDevice, blockDevice, fifo, socket
    }

    package var kind: Kind
    /// Permission bits including setuid, setgid and sticky (`0o7777`).
    package var permissions: UInt32
    package var uid: UInt32
    package var gid: UInt32
    package var size: Int64
    package var modificationTime: Timestamp
    package var device: UInt64
    package var inode: UInt64
    package var linkCount: UInt64
    /// The device a character or block special file stands for.
    package var deviceMajor: UInt32
    package var deviceMinor: UInt32

    package init(_ st: stat) {
        switch st.st_mode & S_IFMT {
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        case S_IFCHR: kind = .characterDevice
        case S_IFBLK: kind = .blockDevice
        case S_IFIFO: kind = .fifo
        case S_IFSOCK: kind = .socket
        default: kind = .regular
        }
        permissions = UInt32(st.st_mode & 0o7777)
        uid = st.st_uid
        gid = st.st_gid
        size = Int64(st.st_size)
        modificationTime = Timestamp(seconds: Int64(st.st_mtim.tv_sec), nanoseconds: Int32(st.st_mtim.tv_nsec))
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        linkCount = UInt64(st.st_nlink)
        (deviceMajor, deviceMinor) = DeviceNumber.split(UInt64(st.st_rdev))
    }

    /// The status of `name` inside the directory `directory` (a descriptor), or nil when it does not exist.
    package static func at(_ directory: Int32, _ name: String) throws(SystemError) -> FileStatus? {
        var st = stat()
        guard fstatat(directory, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return nil }
            throw SystemError.errno("lstat \(name)")
        }
        return FileStatus(st)
    }

    /// The status of an open descriptor.
    package static func of(_ fd: Int32, describing what: String) throws(SystemError) -> FileStatus {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SystemError.errno("fstat \(what)") }
        return FileStatus(st)
    }
}

/// A point in time with nanoseconds, as file systems and PAX headers keep it.
package struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    package var seconds: Int64
    package var nanoseconds: Int32
    package init(seconds: Int64, nanoseconds: Int32 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }
    package static func < (a: Timestamp, b: Timestamp) -> Bool {
        (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
    }
    package var timespec: timespec { Glibc.timespec(tv_sec: Int(seconds), tv_nsec: Int(nanoseconds)) }
    package var description: String { nanoseconds == 0 ? "\(seconds)" : "\(seconds).\(nanoseconds)" }
}

/// Linux `dev_t` packing (glibc's `makedev`, `major`, `minor` are macros Swift cannot call).
package enum DeviceNumber {
    package static func make(major: UInt32, minor: UInt32) -> UInt64 {
        let ma = UInt64(major), mi = UInt64(minor)
        return ((ma & 0xffff_f000) << 32) | ((ma & 0xfff) << 8) | ((mi & 0xffff_ff00) << 12) | (mi & 0xff)
    }
    package static func split(_ dev: UInt64) -> (major: UInt32, minor: UInt32) {
        let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)
        let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0xff)
        return (UInt32(truncatingIfNeeded: major), UInt32(truncatingIfNeeded: minor))
    }
}
