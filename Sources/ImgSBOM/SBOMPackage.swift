/// One installed package found in a root filesystem, as its package manager recorded it.
package struct SBOMPackage: Sendable, Hashable {
    /// Which package manager's database it came from; also the purl type.
    package enum Ecosystem: String, Sendable, Hashable, Comparable {
        case deb, apk, rpm, pypi
        package static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    }

    package var ecosystem: Ecosystem
    package var name: String
    package var version: String
    package var architecture: String?
    /// rpm's epoch, kept apart from the version as rpm (and its purl) do.
    package var epoch: String?
    /// Who delivered it: dpkg's Maintainer, apk's m:, rpm's vendor, Python's Maintainer ("Name <mail>" as written).
    package var supplier: String?
    /// Who wrote it, when the metadata says (Python's Author).
    package var originator: String?
    /// The declared licence, in the package format's own words (an SPDX-like expression, or DEP-5 names).
    package var license: String?
    /// The source package it was built from (dpkg's Source, apk's origin, rpm's source rpm).
    package var sourcePackage: String?
    /// The distribution of the root (`/etc/os-release`), for the purl's namespace and `distro=`.
    package var distribution: Distribution?
    /// The files the package manager lists for it that are regular files in the root, sorted by path.
    package var files: [SBOMFile]

    package init(ecosystem: Ecosystem, name: String, version: String, architecture: String? = nil, epoch: String? = nil,
                 supplier: String? = nil, originator: String? = nil, license: String? = nil, sourcePackage: String? = nil,
                 distribution: Distribution? = nil, files: [SBOMFile] = []) {
        self.ecosystem = ecosystem
        self.name = name
        self.version = version
        self.architecture = architecture
        self.epoch = epoch
        self.supplier = supplier
        self.originator = originator
        self.license = license
        self.sourcePackage = sourcePackage
        self.distribution = distribution
        self.files = files
    }

    /// The order packages are listed in: by ecosystem, name, version, then architecture.
    package static func ordered(_ a: SBOMPackage, _ b: SBOMPackage) -> Bool {
        (a.ecosystem, a.name, a.version, a.architecture ?? "") < (b.ecosystem, b.name, b.version, b.architecture ?? "")
    }
}

/// A regular file of a package, with the checksums SPDX asks for.
package struct SBOMFile: Sendable, Hashable {
    /// Absolute inside the root (`/usr/bin/dpkg`).
    package var path: String
    /// Lower-case hex.
    package var sha1: String
    package var sha256: String
    package init(path: String, sha1: String, sha256: String) {
        self.path = path
        self.sha1 = sha1
        self.sha256 = sha256
    }
}

/// The `ID` and `VERSION_ID` of a root's os-release.
package struct Distribution: Sendable, Hashable {
    package var id: String
    package var versionID: String?
    package init(id: String, versionID: String?) {
        self.id = id
        self.versionID = versionID
    }
}
