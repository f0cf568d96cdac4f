// TestUsers.swift owns the unprivileged users the rootless tests run as (`imgtest` with a subordinate range, `imgnosub` without).
import Glibc
import ImgSystem

/// The unprivileged users the rootless tests run as, created on first use (as root) and kept: `imgtest`
/// with a subordinate range of 65536 ids, `imgnosub` without any. Suites of several test targets ask for
/// them at the same time, so creating one that another process just made is not an error.
package enum TestUsers {
    package static let withRange = "imgtest"
    package static let withoutRange = "imgnosub"

    package struct User: Sendable, Hashable {
        package var name: String
        package var uid: UInt32
        package var gid: UInt32
        package var subuidStart: UInt32
        package var subgidStart: UInt32
    }

    /// `imgtest`, with its range (added when it has none of 65536 ids).
    @discardableResult
    package static func ensureWithRange() throws -> User {
        try Prerequisite.require(.root, .newuidmap, .runuser)
        try ensure(withRange, "-m", "-s", "/bin/sh")
        guard let entry = getpwnam(withRange) else { throw MissingPrerequisite(description: "useradd \(withRange) made no user") }
        let (uid, gid) = (entry.pointee.pw_uid, entry.pointee.pw_gid)
        func firstRange(_ file: String) throws -> SubordinateIDRange? {
            try SubordinateIDs(contentsOf: file).ranges(user: withRange, uid: uid).first
        }
        if try (firstRange(SubordinateIDs.uidFile)?.count ?? 0) < 65536 || (firstRange(SubordinateIDs.gidFile)?.count ?? 0) < 65536 {
            try host("/usr/sbin/usermod", "--add-subuids", "200000-265535", "--add-subgids", "200000-265535", withRange)
        }
        guard let subuid = try firstRange(SubordinateIDs.uidFile), let subgid = try firstRange(SubordinateIDs.gidFile),
              subuid.count >= 65536, subgid.count >= 65536
        else {
            throw MissingPrerequisite(description: "\(withRange) needs a subordinate range of 65536 ids in /etc/subuid and /etc/subgid")
        }
        return User(name: withRange, uid: uid, gid: gid, subuidStart: subuid.start, subgidStart: subgid.start)
    }

    /// `imgnosub`: no home, no subordinate ids.
    @discardableResult
    package static func ensureWithoutRange() throws -> (uid: UInt32, gid: UInt32) {
        try Prerequisite.root.require()
        try ensure(withoutRange, "-M", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", "-s", "/bin/sh")
        guard let entry = getpwnam(withoutRange) else { throw MissingPrerequisite(description: "useradd \(withoutRange) made no user") }
        return (entry.pointee.pw_uid, entry.pointee.pw_gid)
    }

    /// `useradd OPTIONS NAME` unless the user exists.
    private static func ensure(_ name: String, _ options: String...) throws {
        guard getpwnam(name) == nil else { return }
        let result = try ChildProcess.collect(executable: "/usr/sbin/useradd", arguments: options + [name])
        guard result.status.isSuccess || getpwnam(name) != nil else {
            throw MissingPrerequisite(description: "useradd \(name) failed (\(result.status)): \(result.stderr)")
        }
    }
}
