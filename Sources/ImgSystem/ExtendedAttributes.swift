import Glibc

/// Extended attributes of `name` inside an open directory, never following a final symlink. The calls go
/// through `/proc/self/fd/N/name`: the directory is pinned by its descriptor, and the `l*xattr` calls do
/// not follow `name`, so no path outside the directory can be reached (and devices are never opened).
package enum ExtendedAttributes {
    private static func path(_ directory: Int32, _ name: String) -> String { "/proc/self/fd/\(directory)/\(name)" }

    /// Attribute names, sorted. Empty where the file system has none or does not support them.
    package static func names(at directory: Int32, _ name: String) throws(SystemError) -> [String] {
        let p = path(directory, name)
        return try listNames(name) { XattrCalls.list(p, $0, $1) }
    }

    /// One attribute's value, or nil when it is not set.
    package static func value(at directory: Int32, _ name: String, attribute: String) throws(SystemError) -> [UInt8]? {
        let p = path(directory, name)
        return try readValue("\(attribute) \(name)") { XattrCalls.get(p, attribute, $0, $1) }
    }

    /// All attributes with their values.
    package static func all(at directory: Int32, _ name: String) throws(SystemError) -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        for attribute in try names(at: directory, name) {
            if let v = try value(at: directory, name, attribute: attribute) { result[attribute] = v }
        }
        return result
    }

    /// All attributes of an open file with their values: no path walk, one call when there are none (the
    /// usual case for a copied file).
    package static func all(fd: Int32) throws(SystemError) -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        for attribute in try listNames("fd \(fd)", { XattrCalls.fileList(fd, $0, $1) }) {
            if let v = try readValue(attribute, { XattrCalls.fileGet(fd, attribute, $0, $1) }) { result[attribute] = v }
        }
        return result
    }

    /// The names a `listxattr`-like `call(buffer, capacity)` gives, sorted; the buffer grows on ERANGE.
    private static func listNames(_ what: String, _ call: (UnsafeMutablePointer<CChar>, Int) -> Int) throws(SystemError) -> [String] {
        var capacity = 256
        while true {
            var buffer = [CChar](repeating: 0, count: capacity)
            let n = buffer.withUnsafeMutableBufferPointer { call($0.baseAddress!, capacity) }
            if n < 0 {
                if errno == ERANGE { capacity *= 4; continue }
                if errno == ENOTSUP { return [] }
                throw SystemError.errno("listxattr \(what)")
            }
            var names: [String] = []
            var start = 0
            for i in 0..<n where buffer[i] == 0 {
                let bytes = buffer[start..<i].map { UInt8(bitPattern: $0) }
                names.append(String(decoding: bytes, as: UTF8.self))
                start = i + 1
            }
            return names.sorted()
        }
    }

    /// The value a `getxattr`-like `call(buffer, capacity)` gives, or nil when the attribute is not set.
    private static func readValue(_ what: String, _ call: (UnsafeMutableRawPointer, Int) -> Int) throws(SystemError) -> [UInt8]? {
        var capacity = 256
        while true {
            var buffer = [UInt8](repeating: 0, count: capacity)
            let n = buffer.withUnsafeMutableBytes { call($0.baseAddress!, capacity) }
            if n < 0 {
                if errno == ERANGE { capacity *= 4; continue }
                if errno == ENODATA || errno == ENOTSUP { return nil }
                throw SystemError.errno("getxattr \(what)")
            }
            return Array(buffer[0..<n])
        }
    }

    package static func set(at directory: Int32, _ name: String, attribute: String, value: [UInt8]) throws(SystemError) {
        let p = path(directory, name)
        let rc = value.withUnsafeBytes { XattrCalls.set(p, attribute, $0.baseAddress, $0.count, 0) }
        guard rc == 0 else { throw SystemError.errno("setxattr \(attribute) \(name)") }
    }

    package static func remove(at directory: Int32, _ name: String, attribute: String) throws(SystemError) {
        guard XattrCalls.remove(path(directory, name), attribute) == 0 || errno == ENODATA else {
            throw SystemError.errno("removexattr \(attribute) \(name)")
        }
    }

    package static func set(fd: Int32, attribute: String, value: [UInt8]) throws(SystemError) {
        let rc = value.withUnsafeBytes { XattrCalls.fileSet(fd, attribute, $0.baseAddress, $0.count, 0) }
        guard rc == 0 else { throw SystemError.errno("fsetxattr \(attribute)") }
    }
}
