import Glibc
package import ImgOCI
import ImgSystem

extension CopySelection {
    /// sha256 over exactly what is selected: for every root and every entry below a directory root, its
    /// path, type, permission bits, owner (only for trees whose owners are copied), symlink target, device
    /// numbers and content hash, in selection order. Modification times are left out on purpose, as BuildKit
    /// does: touching a file must not invalidate a COPY.
    ///
    /// With a `cache`, a regular file whose (path, size, mtime, inode, device) is unchanged since it was last
    /// hashed is not read again.
    package func checksum(cache: ChecksumCache?) throws(ContextError) -> Digest {
        var records: [Record] = []
        for root in roots {
            let rootHost = root.path.isEmpty ? tree.root : tree.root + "/" + root.path
            records.append(try Record.make(marker: "root", path: root.path, name: root.name, host: rootHost,
                                           directory: AT_FDCWD, leaf: rootHost, keepsOwnership: tree.keepsOwnership))
            records.append(contentsOf: try Self.records(root.contents, under: rootHost, keepsOwnership: tree.keepsOwnership))
        }

        // The selection's stat data (every header, and each file's size, mtime, inode and device) stands for
        // its content exactly as the per-file cache assumes; when it matches a selection seen before, that
        // checksum is the answer without a lookup per file.
        var fingerprinter = DigestHasher()
        Array("v1\0\(tree.root)\0".utf8).withUnsafeBytes { fingerprinter.update($0) }
        for record in records {
            record.header.withUnsafeBytes { fingerprinter.update($0) }
            if let key = record.key {
                withUnsafeBytes(of: (key.size.littleEndian, key.modified.littleEndian, key.inode.littleEndian,
                                     key.device.littleEndian)) { fingerprinter.update($0) }
            }
            [UInt8(0x0a)].withUnsafeBytes { fingerprinter.update($0) }
        }
        let fingerprint = fingerprinter.finalize()
        if let cache, let known = try cache.lookupSelection(fingerprint) { return known }

        let keys = records.compactMap(\.key)
        // Arrays aligned with `keys`, not dictionaries keyed by them: hashing 20,000 long paths again and
        // again showed in every touched rebuild.
        let cached = try cache?.lookup(keys) ?? Array(repeating: nil, count: keys.count)
        var digests = cached
        var toStore: [(ChecksumCache.Key, Digest)] = []
        var remembered = [Bool](repeating: false, count: keys.count)
        // Files changed within this window may change again inside the same mtime tick and still look
        // unchanged; they are hashed but not remembered.
        let racyLimit = Self.nanosecondsNow() - 2_000_000_000
        for index in keys.indices where digests[index] == nil {
            let (digest, stable) = try Self.hashFile(keys[index])
            digests[index] = digest
            if stable && keys[index].modified < racyLimit {
                toStore.append((keys[index], digest))
                remembered[index] = true
            }
        }
        try cache?.store(toStore)
        // Remembered as a whole only when every file's digest is (none changed while being read or too
        // recently to trust its mtime).
        let wholeIsStable = keys.indices.allSatisfy { cached[$0] != nil || remembered[$0] }

        var hasher = DigestHasher()
        var next = 0
        for record in records {
            record.header.withUnsafeBytes { hasher.update($0) }
            if record.key != nil {
                if let digest = digests[next] { Array(digest.description.utf8).withUnsafeBytes { hasher.update($0) } }
                next += 1
            }
            [UInt8(0x0a)].withUnsafeBytes { hasher.update($0) }
        }
        let digest = hasher.finalize()
        if wholeIsStable { try cache?.storeSelection(fingerprint, digest: digest) }
        return digest
    }

    /// The records of a directory root's entries, in order. Each entry is stat'ed relative to its directory
    /// (opened once), not by full path: the stat walk of an unchanged 20,000-file context is most of an
    /// unchanged rebuild. (Splitting it over two cores measured no faster here.)
    private static func records(_ entries: [Entry], under rootHost: String,
                                keepsOwnership: Bool) throws(ContextError) -> [Record] {
        var directories: [Substring: Int32] = [:]
        defer { for fd in directories.values { close(fd) } }
        var records: [Record] = []
        records.reserveCapacity(entries.count)
        for entry in entries {
            let slash = entry.path.utf8.lastIndex(of: UInt8(ascii: "/"))
            let parent = slash.map { entry.path[..<$0] } ?? ""
            let leaf = slash.map { String(entry.path[entry.path.index(after: $0)...]) } ?? entry.path
            let host = rootHost + "/" + entry.path
            let fd: Int32
            if let open = directories[parent] {
                fd = open
            } else {
                fd = Glibc.open(parent.isEmpty ? rootHost : rootHost + "/" + parent, OpenFlags.path | O_DIRECTORY | O_CLOEXEC)
                guard fd >= 0 else {
                    throw ContextError(.io, "cannot stat \(host): \(String(cString: strerror(errno)))")
                }
                directories[parent] = fd
            }
            records.append(try Record.make(marker: "entry", path: entry.path, name: nil, host: host,
                                           directory: fd, leaf: leaf, keepsOwnership: keepsOwnership))
        }
        return records
    }

    /// Hashes a regular file's content; `stable` is false when it changed under us (then not cached).
    static func hashFile(_ key: ChecksumCache.Key) throws(ContextError) -> (Digest, stable: Bool) {
        let fd = open(key.path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            throw ContextError(.io, "cannot read \(key.path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var hasher = DigestHasher()
        let size = 256 * 1024
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, size)
            if n < 0 {
                if errno == EINTR { continue }
                throw ContextError(.io, "cannot read \(key.path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        var st = stat()
        let stable = fstat(fd, &st) == 0 && Int64(st.st_size) == key.size
            && Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec) == key.modified
            && UInt64(st.st_ino) == key.inode
        return (hasher.finalize(), stable)
    }

    static func nanosecondsNow() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}

/// One line of what the checksum covers; a regular file's content digest is appended after `header`.
private struct Record {
    var header: [UInt8]
    var key: ChecksumCache.Key?

    /// `leaf` is looked up in `directory` (or is `host` itself with `AT_FDCWD`).
    static func make(marker: String, path: String, name: String?, host: String, directory: Int32, leaf: String,
                     keepsOwnership: Bool) throws(ContextError) -> Record {
        var st = stat()
        guard fstatat(directory, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw ContextError(.io, "cannot stat \(host): \(String(cString: strerror(errno)))")
        }
        // Fields are NUL-terminated: no path or link target can contain a NUL, so no two selections
        // produce the same bytes.
        var fields: [String] = [marker, path]
        if let name { fields.append(name) }
        let type = st.st_mode & S_IFMT
        fields.append(String(UInt32(type >> 12), radix: 16))
        fields.append(String(UInt32(st.st_mode & 0o7777), radix: 8))
        if keepsOwnership { fields.append("\(st.st_uid):\(st.st_gid)") }
        var key: ChecksumCache.Key?
        switch type {
        case S_IFLNK:
            guard let target = RootedDirectory.readLink(directory, leaf) else {
                throw ContextError(.io, "cannot read the symlink \(host): \(String(cString: strerror(errno)))")
            }
            fields.append(target)
        case S_IFREG:
            key = ChecksumCache.Key(path: host, size: Int64(st.st_size),
                                    modified: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec),
                                    inode: UInt64(st.st_ino), device: UInt64(st.st_dev))
        case S_IFCHR, S_IFBLK:
            let (major, minor) = DeviceNumber.split(UInt64(st.st_rdev))
            fields.append("\(major),\(minor)")
        default:
            break
        }
        var header: [UInt8] = []
        for field in fields {
            header.append(contentsOf: field.utf8)
            header.append(0)
        }
        return Record(header: header, key: key)
    }
}
