import Glibc

/// `open` flags Swift's Glibc module leaves out (they need `_GNU_SOURCE`).
package enum OpenFlags {
    /// `O_PATH` (the generic Linux value, shared by x86-64 and arm64): a descriptor that names a file for
    /// the `*at` calls without opening it for reading, so it needs no read permission.
    package static let path: Int32 = 0o10000000
}
