import Glibc

extension SBOMScanner {
    /// Directories walked in search of `site-packages`/`dist-packages` before the scan gives up.
    static let directoryLimit = 1_000_000
    /// How deep below the root a `site-packages` directory is looked for.
    static let pythonDepth = 12

    /// The Python distributions installed with metadata: every `*.dist-info/METADATA` in a `site-packages`
    /// or `dist-packages` directory anywhere in the tree (symlinked directories are not entered), with the
    /// files their `RECORD` lists.
    static func pythonPackages(_ fs: RootFileSystem) throws -> [SBOMPackage] {
        var packages: [SBOMPackage] = []
        for directory in try sitePackagesDirectories(fs) {
            for name in fs.names(directory) where name.hasSuffix(".dist-info") {
                let info = directory + "/" + name
                guard let metadata = fs.optionalText(info + "/METADATA", limit: extraLimit),
                      var package = pythonPackage(metadata) else { continue }
                if let record = fs.optionalText(info + "/RECORD", limit: extraLimit) {
                    let base = RootFileSystem.clean(directory)
                    package.files = fs.checksums(recordPaths(record).map { RootFileSystem.absolute(RootFileSystem.clean($0, under: base)) })
                }
                packages.append(package)
            }
        }
        return packages
    }

    /// The `site-packages` and `dist-packages` directories under the root, found without following symlinks
    /// and without entering `/proc`, `/sys` or `/dev`.
    static func sitePackagesDirectories(_ fs: RootFileSystem) throws -> [String] {
        guard let rootEntry = try fs.entry("/", followLinks: false) else { return [] }
        var found: [String] = []
        var visited = 0
        // (descriptor, path components, depth); each descriptor is closed once listed.
        var pending: [(Int32, [String])] = []
        let top = openat(rootEntry.parent.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard top >= 0 else { return [] }
        pending.append((top, []))
        while let (fd, components) = pending.popLast() {
            defer { close(fd) }
            visited += 1
            guard visited <= directoryLimit else {
                for (other, _) in pending { close(other) }
                throw SBOMError.tooManyDirectories(fs.path, limit: directoryLimit)
            }
            for (name, isDirectory) in directoryChildren(fd) where isDirectory {
                if components.isEmpty, ["proc", "sys", "dev"].contains(name) { continue }
                let path = components + [name]
                if name == "site-packages" || name == "dist-packages" {
                    found.append(RootFileSystem.absolute(path))
                    continue
                }
                guard path.count < pythonDepth else { continue }
                let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if child >= 0 { pending.append((child, path)) }
            }
        }
        return found.sorted()
    }

    /// The names in an open directory with whether each is a directory (not a symlink to one).
    private static func directoryChildren(_ fd: Int32) -> [(String, Bool)] {
        let listing = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard listing >= 0, let dir = fdopendir(listing) else {
            if listing >= 0 { close(listing) }
            return []
        }
        defer { closedir(dir) }
        var result: [(String, Bool)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name != ".", name != ".." else { continue }
            var isDirectory = entry.pointee.d_type == UInt8(DT_DIR)
            if entry.pointee.d_type == UInt8(DT_UNKNOWN) {
                var st = stat()
                isDirectory = fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_mode & S_IFMT == S_IFDIR
            }
            result.append((name, isDirectory))
        }
        return result.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
    }

    /// A METADATA file (email-header syntax; the body after the first blank line is the description) as a
    /// package: Name, Version, License-Expression or else License, Author and Maintainer.
    static func pythonPackage(_ metadata: String) -> SBOMPackage? {
        var headers: [String: String] = [:]
        var last: String?
        for rawLine in metadata.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty { break }
            if line.first == " " || line.first == "\t" {
                if let last { headers[last, default: ""] += "\n" + String(line).trimmingWhitespace() }
                continue
            }
            guard let colon = line.firstIndex(of: ":") else {
                last = nil
                continue
            }
            let key = line[..<colon].lowercased()
            // Repeated headers (Classifier, Requires-Dist) are not needed; the first of each is kept.
            if headers[key] == nil { headers[key] = String(line[line.index(after: colon)...]).trimmingWhitespace() }
            last = key
        }
        func value(_ key: String) -> String? {
            guard let text = headers[key]?.trimmingWhitespace(), !text.isEmpty, text != "UNKNOWN" else { return nil }
            return text
        }
        guard let name = value("name"), let version = value("version") else { return nil }
        return SBOMPackage(ecosystem: .pypi, name: name, version: version,
                           supplier: person(value("maintainer"), value("maintainer-email")),
                           originator: person(value("author"), value("author-email")),
                           license: value("license-expression") ?? value("license"))
    }

    /// "Name <mail>" from a name and an address header (which may already hold "Name <mail>").
    private static func person(_ name: String?, _ email: String?) -> String? {
        switch (name, email) {
        case (nil, nil): nil
        case (let name?, nil): name
        case (nil, let email?): email
        case (let name?, let email?): email.contains("<") ? email : "\(name) <\(email)>"
        }
    }

    /// The paths of a RECORD file (CSV: path, hash, size; a path with a comma or quote is quoted, `""`
    /// inside quotes is one quote), relative to the site-packages directory.
    static func recordPaths(_ text: String) -> [String] {
        var paths: [String] = []
        for line in text.split(separator: "\n") {
            var field = ""
            var quoted = false
            var index = line.startIndex
            if line.first == "\"" {
                quoted = true
                index = line.index(after: index)
            }
            while index < line.endIndex {
                let character = line[index]
                if quoted, character == "\"" {
                    let next = line.index(after: index)
                    if next < line.endIndex, line[next] == "\"" {
                        field.append("\"")
                        index = line.index(after: next)
                        continue
                    }
                    break
                }
                if !quoted, character == "," { break }
                field.append(character)
                index = line.index(after: index)
            }
            let path = field.hasSuffix("\r") ? String(field.dropLast()) : field
            if !path.isEmpty { paths.append(path) }
        }
        return paths
    }
}
