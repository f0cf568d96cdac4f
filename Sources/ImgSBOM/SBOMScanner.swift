/// Finds the packages installed in a root filesystem by reading the package managers' own databases
/// (dpkg, apk, rpm's sqlite database, Python dist-info directories). Nothing is executed and no path leaves
/// the root.
package enum SBOMScanner {
    /// The most a package database (dpkg status, apk installed) may be: far above real ones (Debian's full
    /// desktop is ~10 MB), so a hostile file cannot exhaust memory.
    static let databaseLimit: Int64 = 256 << 20
    /// The most a per-package file (a file list, copyright, METADATA, RECORD) may be; a bigger one is skipped.
    static let extraLimit: Int64 = 16 << 20

    /// Every package found under `root`, sorted (ecosystem, name, version, architecture), each once.
    package static func scan(root: String) throws -> [SBOMPackage] {
        let fs = try RootFileSystem(path: root)
        let distribution = try osRelease(fs)
        var packages = try dpkgPackages(fs)
        packages += try apkPackages(fs)
        packages += try rpmPackages(fs)
        packages += try pythonPackages(fs)
        for index in packages.indices where packages[index].ecosystem != .pypi {
            packages[index].distribution = distribution
        }
        var seen = Set<String>()
        return packages.sorted(by: SBOMPackage.ordered).filter {
            seen.insert("\($0.ecosystem)\u{0}\($0.name)\u{0}\($0.version)\u{0}\($0.architecture ?? "")").inserted
        }
    }

    /// `ID` and `VERSION_ID` of `/etc/os-release` (or `/usr/lib/os-release`).
    static func osRelease(_ fs: RootFileSystem) throws -> Distribution? {
        guard let text = try fs.text("/etc/os-release", limit: 1 << 20) ?? fs.text("/usr/lib/os-release", limit: 1 << 20) else { return nil }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            var value = String(line[line.index(after: equals)...]).trimmingWhitespace()
            if value.count >= 2, let quote = value.first, quote == "\"" || quote == "'", value.last == quote {
                value = String(value.dropFirst().dropLast())
            }
            values[String(line[..<equals])] = value
        }
        guard let id = values["ID"], !id.isEmpty else { return nil }
        return Distribution(id: id.lowercased(), versionID: values["VERSION_ID"].flatMap { $0.isEmpty ? nil : $0 })
    }
}
