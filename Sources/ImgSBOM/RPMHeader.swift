/// An rpm header as rpmdb stores it: a count of index entries and the data size (both big-endian 32-bit),
/// the 16-byte entries (tag, type, offset, count), then the data. A header read from a package file has an
/// 8-byte magic in front, which is accepted too. Every offset is checked: a hostile blob is an error,
/// never a read out of bounds.
struct RPMHeader {
    enum Tag: Int32 {
        case name = 1000, version = 1001, release = 1002, epoch = 1003, vendor = 1011, license = 1014
        case packager = 1015, arch = 1022, sourceRPM = 1044, dirIndexes = 1116, baseNames = 1117, dirNames = 1118
    }

    private enum DataType: UInt32 {
        case int32 = 4, string = 6, stringArray = 8, i18nString = 9
    }

    private struct Entry {
        let type: UInt32
        let offset: Int
        let count: Int
    }

    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    /// Far above any real header: a hostile count cannot make the parser allocate or loop for ever.
    static let maxEntries = 65_536

    private let data: [UInt8]
    private var entries: [Int32: Entry] = [:]

    init(_ blob: [UInt8]) throws(Malformed) {
        var start = 0
        if blob.count >= 8, blob[0] == 0x8e, blob[1] == 0xad, blob[2] == 0xe8, blob[3] == 0x01 { start = 8 }
        guard blob.count >= start + 8 else { throw Malformed(description: "header of \(blob.count) bytes is too short") }
        let indexCount = Int(Self.uint32(blob, start))
        let dataLength = Int(Self.uint32(blob, start + 4))
        guard indexCount <= Self.maxEntries else { throw Malformed(description: "header claims \(indexCount) entries") }
        let dataStart = start + 8 + indexCount * 16
        guard dataLength <= blob.count, dataStart <= blob.count - dataLength else {
            throw Malformed(description: "header claims \(indexCount) entries and \(dataLength) data bytes in \(blob.count)")
        }
        data = Array(blob[dataStart..<(dataStart + dataLength)])
        for index in 0..<indexCount {
            let at = start + 8 + index * 16
            let tag = Int32(bitPattern: Self.uint32(blob, at))
            let offset = Int(Self.uint32(blob, at + 8))
            let count = Int(Self.uint32(blob, at + 12))
            guard offset < dataLength || count == 0 else {
                throw Malformed(description: "entry for tag \(tag) points past the data")
            }
            entries[tag] = Entry(type: Self.uint32(blob, at + 4), offset: offset, count: count)
        }
    }

    private static func uint32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }

    /// The NUL-terminated strings from `offset`, at most `count`; stops at the end of the data.
    private func strings(_ offset: Int, _ count: Int) -> [String] {
        var result: [String] = []
        var at = offset
        while result.count < count, at < data.count {
            guard let end = data[at...].firstIndex(of: 0) else { break }
            result.append(String(decoding: data[at..<end], as: UTF8.self))
            at = end + 1
        }
        return result
    }

    /// A string tag (for an I18N string the first, untranslated one); nil when absent or of another type.
    func string(_ tag: Tag) -> String? {
        guard let entry = entries[tag.rawValue] else { return nil }
        switch DataType(rawValue: entry.type) {
        case .string, .i18nString, .stringArray: return strings(entry.offset, 1).first
        default: return nil
        }
    }

    func stringArray(_ tag: Tag) -> [String] {
        guard let entry = entries[tag.rawValue], DataType(rawValue: entry.type) == .stringArray else { return [] }
        return strings(entry.offset, entry.count)
    }

    func int32Array(_ tag: Tag) -> [Int32] {
        guard let entry = entries[tag.rawValue], DataType(rawValue: entry.type) == .int32 else { return [] }
        let available = max(0, (data.count - entry.offset) / 4)
        return (0..<min(entry.count, available)).map { Int32(bitPattern: Self.uint32(data, entry.offset + $0 * 4)) }
    }

    /// The installed file paths: each base name joined to the directory its index names.
    var filePaths: [String] {
        let bases = stringArray(.baseNames), directories = stringArray(.dirNames), indexes = int32Array(.dirIndexes)
        return zip(bases, indexes).compactMap { base, index in
            guard index >= 0, Int(index) < directories.count else { return nil }
            return directories[Int(index)] + base
        }
    }
}
