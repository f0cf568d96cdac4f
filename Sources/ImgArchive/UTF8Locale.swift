import Glibc

/// libarchive converts names between UTF-8 and the current locale's charset. In the C locale a UTF-8 name
/// cannot be converted, and libarchive 3.6's PAX writer then crashes or writes `hdrcharset=BINARY`. Every
/// libarchive call that touches names therefore runs with a thread-local C.UTF-8 locale (`uselocale`),
/// leaving the process locale alone.
enum UTF8Locale {
    nonisolated(unsafe) private static let locale: locale_t? = newlocale(Int32(1) << LC_CTYPE, "C.UTF-8", nil)

    static func run<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        guard let locale else { return try body() }
        let previous = uselocale(locale)
        defer { uselocale(previous) }
        return try body()
    }
}
