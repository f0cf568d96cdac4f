import Crypto
import Glibc
import ImgSystem

/// Reads inside an image's root as if it were `/`: every directory on the way is resolved by
/// `RootedDirectory` (no symlink leads out), a final symlink is followed inside the root only when asked,
/// and only regular files are ever opened (a FIFO or device in the tree cannot block or feed the scan).
final class RootFileSystem {
    let path: String
    private let root: RootedDirectory

    /// The most symlinks one path may pass through, as the kernel allows.
    static let maxLinks = 40

    init(path: String) throws(SBOMError) {
        self.path = path
        do { root = try RootedDirectory(path: path) } catch { throw .root(path, error) }
    }

    /// The components of `path` (absolute inside the root) cleaned lexically, `..` stopping at the root as
    /// it does at `/`.
    static func clean(_ path: some StringProtocol, under base: [String] = []) -> [String] {
        var result = path.hasPrefix("/") ? [] : base
        for part in path.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": if !result.isEmpty { result.removeLast() }
            default: result.append(String(part))
            }
        }
        return result
    }

    /// The joined absolute path of components.
    static func absolute(_ components: [String]) -> String { "/" + components.joined(separator: "/") }

    /// An entry found inside the root: its parent directory, its name there, and its lstat.
    struct Entry {
        let parent: OpenDirectory
        let name: String
        let status: stat
        var type: mode_t { status.st_mode & S_IFMT }
        var components: [String] { parent.path + [name] }
    }

    /// Finds `path`; nil when it (or a directory on the way) is missing, or a `..` or symlink loop makes it
    /// unreachable. With `followLinks`, a final symlink is followed inside the root.
    func entry(_ path: String, followLinks: Bool) throws(SBOMError) -> Entry? {
        var components = Self.clean(path)
        for _ in 0...Self.maxLinks {
            guard !components.isEmpty else { return try rootEntry() }
            let parent: OpenDirectory
            let name: String
            do { (parent, name) = try root.openParent(components) } catch {
                if [ENOENT, ENOTDIR, ELOOP, EACCES].contains(error.code) { return nil }
                throw .read(path, error)
            }
            var st = stat()
            guard fstatat(parent.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
                if errno == ENOENT { return nil }
                throw .read(path, .errno("lstat \(Self.absolute(parent.path + [name]))"))
            }
            guard followLinks, st.st_mode & S_IFMT == S_IFLNK else { return Entry(parent: parent, name: name, status: st) }
            guard let target = RootedDirectory.readLink(parent.fd, name) else { return nil }
            components = Self.clean(target, under: parent.path)
        }
        return nil
    }

    private func rootEntry() throws(SBOMError) -> Entry? {
        // The root as an entry: its parent is itself, named ".".
        let itself: OpenDirectory
        do { itself = try root.openDirectory([String]()) } catch { throw .read("/", error) }
        var st = stat()
        guard fstat(itself.fd, &st) == 0 else { throw .read("/", .errno("stat \(path)")) }
        return Entry(parent: itself, name: ".", status: st)
    }

    /// Opens a regular file for reading; nil when the entry is anything else. The caller closes the result.
    private func openRegular(_ entry: Entry, _ path: String) throws(SBOMError) -> (fd: Int32, size: Int64)? {
        guard entry.type == S_IFREG else { return nil }
        let fd = openat(entry.parent.fd, entry.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT || errno == ELOOP { return nil }
            throw .read(path, .errno("open \(path)"))
        }
        var st = stat()
        // Checked again on the descriptor: the entry could have been swapped since it was looked at.
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            return nil
        }
        return (fd, Int64(st.st_size))
    }

    /// Hands the regular file at `path` (symlinks followed inside the root) to `body` in chunks; false when
    /// it is missing or not a regular file; `tooLarge` beyond `limit`, checked on what is read too (the file
    /// may grow while it is read).
    private func stream(_ path: String, limit: Int64,
                        _ body: (UnsafeRawBufferPointer) throws(SBOMError) -> Void) throws(SBOMError) -> Bool {
        guard let entry = try entry(path, followLinks: true), let (fd, size) = try openRegular(entry, path) else { return false }
        defer { close(fd) }
        guard size <= limit else { throw .tooLarge(path, size: size, limit: limit) }
        var total: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw .read(path, .errno("read \(path)"))
            }
            if n == 0 { return true }
            total += Int64(n)
            guard total <= limit else { throw .tooLarge(path, size: total, limit: limit) }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }

    /// The bytes of the regular file at `path` (symlinks followed inside the root); nil when missing or not
    /// a regular file; `tooLarge` beyond `limit`.
    func read(_ path: String, limit: Int64) throws(SBOMError) -> [UInt8]? {
        var bytes: [UInt8] = []
        guard try stream(path, limit: limit, { bytes += $0 }) else { return nil }
        return bytes
    }

    /// Copies the regular file at `path` to `destination` (a new file outside the root), in chunks; false
    /// when there is no such file.
    func copy(_ path: String, to destination: String, limit: Int64) throws(SBOMError) -> Bool {
        let out = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw .read(destination, .errno("create \(destination)")) }
        var found = false
        defer {
            close(out)
            if !found { unlink(destination) }
        }
        found = try stream(path, limit: limit) { (chunk) throws(SBOMError) in
            var offset = 0
            while offset < chunk.count {
                let written = write(out, chunk.baseAddress! + offset, chunk.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw .read(destination, .errno("write \(destination)"))
                }
                offset += written
            }
        }
        return found
    }

    /// `read` for text, which is decoded as UTF-8 (invalid bytes replaced); nil when missing.
    func text(_ path: String, limit: Int64) throws(SBOMError) -> String? {
        try read(path, limit: limit).map { String(decoding: $0, as: UTF8.self) }
    }

    /// `text`, with anything short of success (missing, too big, unreadable) as nil: for the extras of a
    /// package (its copyright file, its file list), which a package is listed without.
    func optionalText(_ path: String, limit: Int64) -> String? {
        (try? text(path, limit: limit)) ?? nil
    }

    /// The names in the directory at `path` (symlinks followed inside the root), sorted; empty when it is
    /// missing or not a directory.
    func names(_ path: String) -> [String] {
        guard let entry = try? entry(path, followLinks: true), entry.type == S_IFDIR else { return [] }
        return (try? DirectoryEntries.names(in: entry.parent.fd, entry.name)) ?? []
    }

    /// The checksums of the file at `path`, nil when it is missing, a symlink, or not a regular file (a
    /// package's file list also names its directories and links).
    func checksum(_ path: String) -> SBOMFile? {
        guard let entry = try? entry(path, followLinks: false),
              let opened = try? openRegular(entry, path) else { return nil }
        defer { close(opened.fd) }
        var sha1 = Insecure.SHA1()
        var sha256 = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(opened.fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            buffer.withUnsafeBytes { raw in
                let part = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                sha1.update(bufferPointer: part)
                sha256.update(bufferPointer: part)
            }
        }
        return SBOMFile(path: Self.absolute(entry.components), sha1: Self.hex(sha1.finalize()), sha256: Self.hex(sha256.finalize()))
    }

    static func hex(_ digest: some Digest) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in digest { out += [digits[Int(byte >> 4)], digits[Int(byte & 15)]] }
        return String(decoding: out, as: UTF8.self)
    }

    /// Checksums for each listed path that is a regular file, each path once, sorted.
    func checksums(_ paths: some Sequence<String>) -> [SBOMFile] {
        var seen = Set<String>()
        var files: [SBOMFile] = []
        var looked = Set<String>()
        for path in paths {
            let clean = Self.absolute(Self.clean(path))
            // Two listed paths can be one file (`/bin/ls` and `/usr/bin/ls` on a merged /usr): it is listed
            // once, by where it really is.
            guard looked.insert(clean).inserted, let file = checksum(clean), seen.insert(file.path).inserted else { continue }
            files.append(file)
        }
        return files.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    }
}
