package import ImgSystem

/// One member of a tar archive as img reads and writes it.
package struct TarEntry: Sendable, Hashable {
    package enum Kind: String, Sendable, Hashable {
        case regular, directory, symlink, hardlink, characterDevice, blockDevice, fifo
    }

    /// Relative path inside the archive, without a leading `./` or `/` and without a trailing `/`.
    package var path: String
    package var kind: Kind
    /// Permission bits including setuid, setgid and sticky (`0o7777`).
    package var permissions: UInt32
    package var uid: UInt32
    package var gid: UInt32
    /// Owner names as stored; img writes none (numeric owners only).
    package var userName: String?
    package var groupName: String?
    package var modificationTime: Timestamp
    /// Bytes of content that follow the header (0 for everything but regular files).
    package var size: Int64
    /// Symlink target, or for a hardlink the path of the entry it links to.
    package var linkTarget: String?
    package var xattrs: [String: [UInt8]]
    package var deviceMajor: UInt32
    package var deviceMinor: UInt32

    package init(path: String, kind: Kind, permissions: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0,
                 modificationTime: Timestamp = Timestamp(seconds: 0), size: Int64 = 0, linkTarget: String? = nil,
                 xattrs: [String: [UInt8]] = [:], deviceMajor: UInt32 = 0, deviceMinor: UInt32 = 0) {
        self.path = path
        self.kind = kind
        self.permissions = permissions
        self.uid = uid
        self.gid = gid
        self.modificationTime = modificationTime
        self.size = size
        self.linkTarget = linkTarget
        self.xattrs = xattrs
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
    }

    /// `path` with leading `/` and `./` and trailing `/` removed, as tar writers differ on those.
    static func normalizedPath(_ raw: String) -> String {
        var s = Substring(raw)
        while true {
            if s.hasPrefix("/") { s = s.dropFirst() } else if s.hasPrefix("./") { s = s.dropFirst(2) } else { break }
        }
        while s.hasSuffix("/") { s = s.dropLast() }
        return s == "." ? "" : String(s)
    }
}
