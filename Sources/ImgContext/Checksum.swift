import Dispatch
import Glibc
package import ImgOCI
import ImgSystem
import Synchronization

extension CopySelection {
    /// sha256 over exactly what is selected: for every root and every entry below a directory root, its
    /// path, type, permission bits, owner (only for trees whose owners are copied), symlink target, device
    /// numbers and content hash, in selection order. Modification times are left out on purpose, as BuildKit
    /// does: touching a file must not invalidate a COPY.
    ///
    /// With a `cache`, a regular file whose (path, size, mtime, inode, device) is unchanged since it was last
    /// hashed is not read again.
    ///
    /// Directories of more than `splitAbove` entries are stat'ed in two halves on two threads.
    package func checksum(cache: ChecksumCache?, splitAbove: Int = 4096) throws(ContextError) -> Digest {
        var records = Records()
        for root in roots {
            let rootHost = root.path.isEmpty ? tree.root : tree.root + "/" + root.path
            try records.add(marker: "root", path: root.path, name: root.name, host: rootHost, relative: nil,
                            directory: AT_FDCWD, leafOffset: 0, keepsOwnership: tree.keepsOwnership)
            records.append(try Records.entries(root.contents, under: rootHost, keepsOwnership: tree.keepsOwnership,
                                                splitAbove: splitAbove))
        }

        // The selection's stat data (every header, and each file's size, mtime, inode and device) stands for
        // its content exactly as the per-file cache assumes; when it matches a selection seen before, that
        // checksum is the answer without a lookup per file. The headers alone are its shape: the same files
        // with the same modes, whatever their content.
        var fingerprinter = DigestHasher()
        var shaper = DigestHasher()
        Array("v1\0\(tree.root)\0".utf8).withUnsafeBytes {
            fingerprinter.update($0)
            shaper.update($0)
        }
        records.forEach { header, fileIndex in
            fingerprinter.update(header)
            shaper.update(header)
            if let fileIndex {
                let file = records.files[fileIndex]
                withUnsafeBytes(of: (file.size.littleEndian, file.modified.littleEndian, file.inode.littleEndian,
                                     file.device.littleEndian)) { fingerprinter.update($0) }
            }
            withUnsafeBytes(of: UInt8(0x0a)) {
                fingerprinter.update($0)
                shaper.update($0)
            }
        }
        let fingerprint = fingerprinter.finalize()
        let shape = shaper.finalize()
        if let cache, let known = try cache.lookupSelection(fingerprint) { return known }

        let files = records.files
        // Every file's digest as hex digits, 64 bytes each (the checksum hashes that text), and whether it is
        // known yet and can be trusted next time without reading the file.
        var hex = [UInt8](repeating: 0, count: files.count * 64)
        var known = [Bool](repeating: false, count: files.count)
        var trusted = [Bool](repeating: false, count: files.count)
        func setHex(_ index: Int, _ digest: Digest) {
            var text = digest.hex
            text.withUTF8 { utf8 in hex.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: index * 64).copyMemory(from: utf8.baseAddress!, byteCount: 64) } }
        }
        // After a touch or an edit, the list stored under the same shape answers all but the changed files.
        var fromShape = 0
        let previous = try cache?.lookupShape(shape, count: files.count)
        if let previous {
            hex.withUnsafeMutableBytes { out in
                for index in files.indices {
                    let file = files[index]
                    guard previous.matches(index, size: file.size, modified: file.modified, inode: file.inode,
                                           device: file.device) else { continue }
                    previous.withDigestHex(index) { out.baseAddress!.advanced(by: index * 64).copyMemory(from: $0.baseAddress!, byteCount: 64) }
                    known[index] = true
                    trusted[index] = true
                    fromShape += 1
                }
            }
            cache?.countShapeHits(fromShape)
        }
        // The rest through the per-file cache. Arrays aligned with the files, not dictionaries keyed by
        // them: hashing 20,000 long paths again and again showed in every touched rebuild.
        let missing = files.indices.filter { !known[$0] }
        let keys = missing.map { files[$0].key }
        let cached = try cache?.lookup(keys) ?? Array(repeating: nil, count: keys.count)
        var toStore: [(ChecksumCache.Key, Digest)] = []
        // Files changed within this window may change again inside the same mtime tick and still look
        // unchanged; they are hashed but not remembered.
        let racyLimit = Self.nanosecondsNow() - 2_000_000_000
        let hashed = try Self.hashFiles(keys, skipping: cached)
        for (position, index) in missing.enumerated() {
            if let digest = cached[position] {
                setHex(index, digest)
                trusted[index] = true
                continue
            }
            guard let (digest, stable) = hashed[position] else { continue }
            setHex(index, digest)
            if stable && keys[position].modified < racyLimit {
                toStore.append((keys[position], digest))
                trusted[index] = true
            }
        }
        try cache?.store(toStore)
        // The list is rewritten only when it answered too little (1.9 MB for 20,000 files); the few files
        // it misses after an edit come from the per-file table.
        if let cache, previous == nil || missing.count > max(64, files.count / 32) {
            var list = ChecksumCache.ShapeList(capacity: files.count)
            hex.withUnsafeBytes { digits in
                for (index, file) in files.enumerated() {
                    list.append(size: file.size, modified: file.modified, inode: file.inode, device: file.device,
                                trusted: trusted[index], hex: UnsafeRawBufferPointer(rebasing: digits[(index * 64)..<(index * 64 + 64)]))
                }
            }
            try cache.storeShape(shape, files: list)
        }

        var hasher = DigestHasher()
        let prefix = Array("sha256:".utf8)
        hex.withUnsafeBytes { digits in
            records.forEach { header, fileIndex in
                hasher.update(header)
                if let fileIndex {
                    prefix.withUnsafeBytes { hasher.update($0) }
                    hasher.update(UnsafeRawBufferPointer(rebasing: digits[(fileIndex * 64)..<(fileIndex * 64 + 64)]))
                }
                withUnsafeBytes(of: UInt8(0x0a)) { hasher.update($0) }
            }
        }
        let digest = hasher.finalize()
        // Remembered as a whole only when every file's digest is to be trusted (none changed while being read
        // or too recently to trust its mtime).
        if trusted.allSatisfy({ $0 }) { try cache?.storeSelection(fingerprint, digest: digest) }
        return digest
    }

    /// The content hash of each file in `keys` whose `skipping` entry is nil, on every core (a fresh state
    /// directory, another machine's first build, reads the whole context: hundreds of MB on a big one). Files
    /// are handed out one at a time, so a few big ones do not leave a thread idle. The first error wins.
    static func hashFiles(_ keys: [ChecksumCache.Key], skipping: [Digest?]) throws(ContextError) -> [(Digest, stable: Bool)?] {
        let pending = keys.indices.filter { skipping[$0] == nil }
        var results = [(Digest, stable: Bool)?](repeating: nil, count: keys.count)
        guard !pending.isEmpty else { return results }
        let workers = min(pending.count, max(1, min(8, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))))
        if workers == 1 {
            for position in pending { results[position] = try hashFile(keys[position]) }
            return results
        }
        let next = Mutex(0)
        let failure = Mutex<ContextError?>(nil)
        results.withUnsafeMutableBufferPointer { out in
            // Each position is written by the one thread that took it.
            nonisolated(unsafe) let out = out
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while true {
                    let taken = next.withLock { value in defer { value += 1 }; return value }
                    guard taken < pending.count, failure.withLock({ $0 == nil }) else { return }
                    let position = pending[taken]
                    do throws(ContextError) {
                        out[position] = try hashFile(keys[position])
                    } catch {
                        failure.withLock { $0 = $0 ?? error }
                        return
                    }
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return results
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

/// What the checksum covers, one record per root and entry in selection order: a header of NUL-terminated
/// fields (all records in one buffer), and for regular files the stat data the content cache is keyed by.
/// No String is made per entry: on an unchanged 20,000-file context this walk is most of the rebuild.
private struct Records {
    struct File {
        var record: Int
        var rootHost: String
        /// The entry's path below `rootHost`; nil for a root that is itself the file.
        var relative: String?
        var size: Int64
        var modified: Int64
        var inode: UInt64
        var device: UInt64

        var key: ChecksumCache.Key {
            ChecksumCache.Key(path: relative.map { rootHost + "/" + $0 } ?? rootHost, size: size, modified: modified,
                              inode: inode, device: device)
        }
    }

    var bytes: [UInt8] = []
    /// The end offset in `bytes` of each record's header.
    var ends: [Int] = []
    var files: [File] = []

    /// A directory root's entries; a large tree in two halves on two threads (the stat calls are most of
    /// the time, and each half opens its own directories).
    static func entries(_ entries: [CopySelection.Entry], under rootHost: String, keepsOwnership: Bool,
                        splitAbove: Int) throws(ContextError) -> Records {
        var records = Records()
        guard entries.count > splitAbove else {
            try records.addEntries(entries[...], under: rootHost, keepsOwnership: keepsOwnership)
            return records
        }
        let middle = entries.count / 2
        var halves = [Result<Records, ContextError>](repeating: .success(Records()), count: 2)
        halves.withUnsafeMutableBufferPointer { results in
            nonisolated(unsafe) let results = results
            DispatchQueue.concurrentPerform(iterations: 2) { half in
                var part = Records()
                do throws(ContextError) {
                    try part.addEntries(half == 0 ? entries[..<middle] : entries[middle...], under: rootHost,
                                        keepsOwnership: keepsOwnership)
                    results[half] = .success(part)
                } catch {
                    results[half] = .failure(error)
                }
            }
        }
        for half in halves { records.append(try half.get()) }
        return records
    }

    /// Each record's header in order, with the index in `files` of the regular file it stands for.
    func forEach(_ body: (UnsafeRawBufferPointer, Int?) -> Void) {
        var nextFile = 0
        bytes.withUnsafeBytes { all in
            for index in ends.indices {
                let start = index == 0 ? 0 : ends[index - 1]
                var fileIndex: Int?
                if nextFile < files.count && files[nextFile].record == index {
                    fileIndex = nextFile
                    nextFile += 1
                }
                body(UnsafeRawBufferPointer(rebasing: all[start..<ends[index]]), fileIndex)
            }
        }
    }

    /// `other`'s records after these.
    mutating func append(_ other: Records) {
        let byteBase = bytes.count, recordBase = ends.count
        bytes.append(contentsOf: other.bytes)
        ends.append(contentsOf: other.ends.lazy.map { $0 + byteBase })
        files.append(contentsOf: other.files.lazy.map { file in
            var file = file
            file.record += recordBase
            return file
        })
    }

    /// Entries each stat'ed relative to its directory (opened once), not by full path.
    private mutating func addEntries(_ entries: ArraySlice<CopySelection.Entry>, under rootHost: String,
                                     keepsOwnership: Bool) throws(ContextError) {
        var directories: [Substring: Int32] = [:]
        defer { for fd in directories.values { close(fd) } }
        bytes.reserveCapacity(bytes.count + entries.count * 48)
        for entry in entries {
            let slash = entry.path.utf8.lastIndex(of: UInt8(ascii: "/"))
            let parent = slash.map { entry.path[..<$0] } ?? ""
            let leafOffset = slash.map { entry.path.utf8.distance(from: entry.path.utf8.startIndex, to: $0) + 1 } ?? 0
            let fd: Int32
            if let open = directories[parent] {
                fd = open
            } else {
                fd = Glibc.open(parent.isEmpty ? rootHost : rootHost + "/" + parent, OpenFlags.path | O_DIRECTORY | O_CLOEXEC)
                guard fd >= 0 else {
                    throw ContextError(.io, "cannot stat \(rootHost)/\(entry.path): \(String(cString: strerror(errno)))")
                }
                directories[parent] = fd
            }
            try add(marker: "entry", path: entry.path, name: nil, host: rootHost, relative: entry.path,
                    directory: fd, leafOffset: leafOffset, keepsOwnership: keepsOwnership)
        }
    }

    /// One record: `path`'s bytes from `leafOffset` on are looked up in `directory` (with `AT_FDCWD`, `host`
    /// and `relative` joined are the path). Fields are NUL-terminated: no path or link target can contain a
    /// NUL, so no two selections produce the same bytes.
    mutating func add(marker: StaticString, path: String, name: String?, host: String, relative: String?,
                      directory: Int32, leafOffset: Int, keepsOwnership: Bool) throws(ContextError) {
        var st = stat()
        let lookup = directory == AT_FDCWD ? host : path
        let offset = directory == AT_FDCWD ? 0 : leafOffset
        let status = lookup.withCString { fstatat(directory, $0 + offset, &st, AT_SYMLINK_NOFOLLOW) }
        func hostPath() -> String { relative.map { host + "/" + $0 } ?? host }
        guard status == 0 else {
            throw ContextError(.io, "cannot stat \(hostPath()): \(String(cString: strerror(errno)))")
        }
        marker.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(0)
        bytes.append(contentsOf: path.utf8)
        bytes.append(0)
        if let name {
            bytes.append(contentsOf: name.utf8)
            bytes.append(0)
        }
        let type = st.st_mode & S_IFMT
        appendNumber(UInt64(type >> 12), radix: 16)
        appendNumber(UInt64(st.st_mode & 0o7777), radix: 8)
        if keepsOwnership {
            appendNumber(UInt64(st.st_uid), radix: 10, terminator: UInt8(ascii: ":"))
            appendNumber(UInt64(st.st_gid), radix: 10)
        }
        switch type {
        case S_IFLNK:
            let target = lookup.withCString { RootedDirectory.readLink(directory, String(cString: $0 + offset)) }
            guard let target else {
                throw ContextError(.io, "cannot read the symlink \(hostPath()): \(String(cString: strerror(errno)))")
            }
            bytes.append(contentsOf: target.utf8)
            bytes.append(0)
        case S_IFREG:
            files.append(File(record: ends.count, rootHost: host, relative: relative, size: Int64(st.st_size),
                              modified: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec),
                              inode: UInt64(st.st_ino), device: UInt64(st.st_dev)))
        case S_IFCHR, S_IFBLK:
            let (major, minor) = DeviceNumber.split(UInt64(st.st_rdev))
            appendNumber(UInt64(major), radix: 10, terminator: UInt8(ascii: ","))
            appendNumber(UInt64(minor), radix: 10)
        default:
            break
        }
        ends.append(bytes.count)
    }

    /// `value` in lower-case digits of `radix` (as `String(value, radix:)` writes it), then `terminator`.
    private mutating func appendNumber(_ value: UInt64, radix: UInt64, terminator: UInt8 = 0) {
        let start = bytes.count
        var rest = value
        repeat {
            let digit = UInt8(rest % radix)
            bytes.append(digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10)
            rest /= radix
        } while rest > 0
        bytes[start...].reverse()
        bytes.append(terminator)
    }
}
