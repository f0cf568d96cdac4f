extension SBOMScanner {
    static let dpkgStatus = "/var/lib/dpkg/status"
    static let dpkgStatusDirectory = "/var/lib/dpkg/status.d"
    static let dpkgInfo = "/var/lib/dpkg/info"

    /// The installed packages of dpkg's status file and of `status.d/` (distroless images: one stanza per
    /// file, with an optional `<name>.md5sums` beside it).
    static func dpkgPackages(_ fs: RootFileSystem) throws -> [SBOMPackage] {
        var packages: [SBOMPackage] = []
        if let text = try fs.text(dpkgStatus, limit: databaseLimit) {
            for stanza in ControlStanza.parse(text) {
                guard var package = dpkgPackage(stanza, requireStatus: true) else { continue }
                package.files = fs.checksums(dpkgFileList(fs, package))
                package.license = debianCopyrightLicense(fs, package.name)
                packages.append(package)
            }
        }
        for file in fs.names(dpkgStatusDirectory) where !file.hasSuffix(".md5sums") && !file.hasPrefix(".") {
            guard let text = try fs.text(dpkgStatusDirectory + "/" + file, limit: extraLimit) else { continue }
            for stanza in ControlStanza.parse(text) {
                // distroless writes no Status field: a stanza there is an installed package.
                guard var package = dpkgPackage(stanza, requireStatus: false) else { continue }
                var paths = dpkgFileList(fs, package)
                if let sums = fs.optionalText(dpkgStatusDirectory + "/" + file + ".md5sums", limit: extraLimit) {
                    paths += md5sumsPaths(sums)
                }
                package.files = fs.checksums(paths)
                package.license = debianCopyrightLicense(fs, package.name)
                packages.append(package)
            }
        }
        return packages
    }

    /// A stanza as a package: nil when it is malformed, lacks a name or version, or (with `requireStatus`)
    /// is not installed. `hold` is installed too: it only tells dpkg not to upgrade it.
    static func dpkgPackage(_ stanza: ControlStanza, requireStatus: Bool) -> SBOMPackage? {
        guard !stanza.malformed, let name = stanza.firstLine("Package"), let version = stanza.firstLine("Version") else { return nil }
        if let status = stanza.firstLine("Status") {
            let words = status.split(separator: " ")
            guard words.count == 3, ["install", "hold"].contains(words[0]), words[1] == "ok", words[2] == "installed" else { return nil }
        } else if requireStatus {
            return nil
        }
        // Source may carry the source version: `glibc (2.36-9+deb12u4)`.
        let source = stanza.firstLine("Source").map { String($0.split(separator: " ").first ?? "") }
        return SBOMPackage(ecosystem: .deb, name: name, version: version, architecture: stanza.firstLine("Architecture"),
                           supplier: stanza.firstLine("Maintainer"), sourcePackage: source)
    }

    /// The paths dpkg lists for a package: `info/<name>:<arch>.list` (a Multi-Arch: same package) or
    /// `info/<name>.list`, else its md5sums.
    static func dpkgFileList(_ fs: RootFileSystem, _ package: SBOMPackage) -> [String] {
        var bases = [package.name]
        if let arch = package.architecture { bases.insert(package.name + ":" + arch, at: 0) }
        for base in bases {
            if let list = fs.optionalText("\(dpkgInfo)/\(base).list", limit: extraLimit) {
                return list.split(separator: "\n").map(String.init).filter { $0.hasPrefix("/") }
            }
        }
        for base in bases {
            if let sums = fs.optionalText("\(dpkgInfo)/\(base).md5sums", limit: extraLimit) { return md5sumsPaths(sums) }
        }
        return []
    }

    /// The paths of an md5sums file: `<md5>  <path without the leading slash>`.
    static func md5sumsPaths(_ text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            guard let space = line.firstIndex(of: " ") else { return nil }
            let path = line[space...].drop { $0 == " " }
            return path.isEmpty ? nil : "/" + path
        }
    }

    /// The licences of `/usr/share/doc/<name>/copyright` when it is machine-readable (DEP-5): the distinct
    /// `License:` names of its `Files:` paragraphs, joined with AND. Nil for free-form copyright files.
    static func debianCopyrightLicense(_ fs: RootFileSystem, _ name: String) -> String? {
        guard let text = fs.optionalText("/usr/share/doc/\(name)/copyright", limit: extraLimit) else { return nil }
        let stanzas = ControlStanza.parse(text)
        guard let header = stanzas.first, let format = header.firstLine("Format"), format.contains("copyright-format") else { return nil }
        var licenses: [String] = []
        for stanza in stanzas.dropFirst() where stanza["Files"] != nil {
            guard let license = stanza.firstLine("License") else { continue }
            let expression = dep5Expression(license)
            if !expression.isEmpty, !licenses.contains(expression) { licenses.append(expression) }
        }
        guard !licenses.isEmpty else { return nil }
        if licenses.count == 1 { return licenses[0] }
        return licenses.map { $0.contains(" ") ? "(\($0))" : $0 }.joined(separator: " and ")
    }

    /// A DEP-5 licence line in SPDX's expression syntax: DEP-5 lists with commas where SPDX says AND, and
    /// names an exception `with OpenSSL exception` where SPDX's id is `OpenSSL-exception`.
    static func dep5Expression(_ license: String) -> String {
        var words: [String] = []
        for word in license.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) {
            if word.lowercased() == "exception", let last = words.last, words.count >= 2, words[words.count - 2].lowercased() == "with" {
                words[words.count - 1] = last + "-exception"
            } else {
                words.append(word)
            }
        }
        return words.joined(separator: " ").split(separator: ",").map { String($0).trimmingWhitespace() }
            .filter { !$0.isEmpty }.joined(separator: " and ")
    }
}
