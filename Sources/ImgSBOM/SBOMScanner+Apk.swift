extension SBOMScanner {
    static let apkInstalled = "/lib/apk/db/installed"

    /// The packages of apk's database: blank-line separated records of `X:value` lines (P name, V version,
    /// A arch, L licence, o origin, m maintainer; F a directory, R a file in the last F).
    static func apkPackages(_ fs: RootFileSystem) throws -> [SBOMPackage] {
        guard let text = try fs.text(apkInstalled, limit: databaseLimit) else { return [] }
        var packages: [SBOMPackage] = []
        var fields: [Character: String] = [:]
        var paths: [String] = []
        var directory = ""
        var malformed = false
        func finish() {
            defer {
                fields = [:]
                paths = []
                directory = ""
                malformed = false
            }
            guard !malformed, let name = fields["P"], !name.isEmpty, let version = fields["V"], !version.isEmpty else { return }
            packages.append(SBOMPackage(ecosystem: .apk, name: name, version: version, architecture: fields["A"],
                                        supplier: fields["m"], license: fields["L"], sourcePackage: fields["o"],
                                        files: fs.checksums(paths)))
        }
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty {
                finish()
                continue
            }
            let characters = Array(line.prefix(2))
            guard characters.count == 2, characters[1] == ":", characters[0].isASCII, characters[0].isLetter else {
                malformed = true
                continue
            }
            let value = String(line.dropFirst(2))
            switch characters[0] {
            case "F": directory = value
            case "R": paths.append("/" + (directory.isEmpty ? value : directory + "/" + value))
            case let key where fields[key] == nil: fields[key] = value
            default: break
            }
        }
        finish()
        return packages
    }
}
