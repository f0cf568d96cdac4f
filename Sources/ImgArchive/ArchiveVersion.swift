import CArchive

/// The libarchive version img is linked against, for `img version --debug` and bug reports.
package enum ArchiveLibrary {
    package static var version: String { String(cString: archive_version_details()) }
}
