import CImgShim
import Glibc
package import ImgErrors

/// Why `USER` or `--chown` names no user or group of the image; `description` is the one line.
package struct UserLookupError: ImgError, Hashable {
    package enum Code: String, Sendable, Hashable, CaseIterable {
        /// A name the image's `/etc/passwd` or `/etc/group` does not have.
        case unknownUser = "unknown-user"
        /// The rootfs could not be read.
        case system
    }

    package var code: Code
    package var message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }
    package var errorCode: String { code.rawValue }
}

/// The ids a RUN step runs with, from the Dockerfile's `USER` and the image's `/etc/passwd` and `/etc/group`.
package struct ContainerUser: Sendable, Hashable {
    package var uid: UInt32
    package var gid: UInt32
    /// Supplementary groups: every group in `/etc/group` that lists the user by name, but the primary one.
    package var additionalGids: [UInt32]
    /// The passwd entry's home directory, `/` without one.
    package var home: String

    package init(uid: UInt32, gid: UInt32, additionalGids: [UInt32] = [], home: String = "/") {
        self.uid = uid
        self.gid = gid
        self.additionalGids = additionalGids
        self.home = home
    }

    /// Resolves `spec` (`user[:group]`, names or numbers; nil or empty is root) with the image's files.
    /// A name must exist in the file; a number need not (then the group is 0, as docker does).
    package static func resolve(_ spec: String?, passwd: String?, group: String?) throws(UserLookupError) -> ContainerUser {
        let text = spec.flatMap { $0.isEmpty ? nil : $0 } ?? "root"
        let userPart: Substring
        let groupPart: Substring?
        if let colon = text.firstIndex(of: ":") {
            userPart = text[..<colon]
            groupPart = text[text.index(after: colon)...]
        } else {
            userPart = text[...]
            groupPart = nil
        }
        let users = (passwd ?? "").split(separator: "\n").compactMap(PasswdLine.init)
        let groups = (group ?? "").split(separator: "\n").compactMap(GroupLine.init)

        var entry = users.first { $0.name == userPart }
        let uid: UInt32
        if let entry {
            uid = entry.uid
        } else if let number = UInt32(userPart) {
            uid = number
            entry = users.first { $0.uid == number }
        } else if userPart == "root" {
            uid = 0  // root needs no passwd file
        } else {
            throw UserLookupError(.unknownUser, "unable to find user \(userPart): no matching entries in the image's /etc/passwd")
        }

        let gid: UInt32
        if let groupPart, !groupPart.isEmpty {
            if let match = groups.first(where: { $0.name == groupPart }) {
                gid = match.gid
            } else if let number = UInt32(groupPart) {
                gid = number
            } else {
                throw UserLookupError(.unknownUser, "unable to find group \(groupPart): no matching entries in the image's /etc/group")
            }
        } else {
            gid = entry?.gid ?? 0
        }

        var additional: [UInt32] = []
        if let name = entry?.name {
            for line in groups where line.members.contains(name) && line.gid != gid && !additional.contains(line.gid) {
                additional.append(line.gid)
            }
        }
        return ContainerUser(uid: uid, gid: gid, additionalGids: additional, home: entry?.home ?? "/")
    }

    /// Reads `etc/passwd` and `etc/group` from `rootfs`, resolving symlinks as if `rootfs` were `/` (an
    /// image cannot point img at the host's files), and resolves `spec` against them.
    package static func resolve(_ spec: String?, rootfs: String) throws(UserLookupError) -> ContainerUser {
        let root = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard root >= 0 else { throw UserLookupError(.system, "\(SystemError.errno("open rootfs \(rootfs)"))") }
        defer { close(root) }
        func read(_ path: String) -> String? {
            let fd = img_shim_open_in_root(root, path, O_RDONLY, 0)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            return try? SmallTextFile.read(descriptor: fd, name: path)
        }
        return try resolve(spec, passwd: read("etc/passwd"), group: read("etc/group"))
    }
}

private struct PasswdLine {
    var name: Substring
    var uid: UInt32
    var gid: UInt32
    var home: String

    init?(_ line: Substring) {
        let fields = line.split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count >= 7, !fields[0].isEmpty, let uid = UInt32(fields[2]), let gid = UInt32(fields[3]) else { return nil }
        name = fields[0]
        self.uid = uid
        self.gid = gid
        home = fields[5].isEmpty ? "/" : String(fields[5])
    }
}

private struct GroupLine {
    var name: Substring
    var gid: UInt32
    var members: [Substring]

    init?(_ line: Substring) {
        let fields = line.split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count >= 4, !fields[0].isEmpty, let gid = UInt32(fields[2]) else { return nil }
        name = fields[0]
        self.gid = gid
        members = fields[3].split(separator: ",").map { $0.filter { !$0.isWhitespace }[...] }
    }
}
