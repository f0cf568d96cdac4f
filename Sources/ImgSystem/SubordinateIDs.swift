import Glibc

/// One line's range from `/etc/subuid` or `/etc/subgid`: `count` host ids starting at `start`.
package struct SubordinateIDRange: Sendable, Hashable, CustomStringConvertible {
    package var start: UInt32
    package var count: UInt32

    package init(start: UInt32, count: UInt32) {
        self.start = start
        self.count = count
    }

    package var description: String { "\(start)-\(UInt64(start) + UInt64(count) - 1)" }
}

/// The contents of a subordinate-id file (`subuid(5)`, `subgid(5)`): lines `owner:start:count`, where owner
/// is a login name or a numeric uid, and one owner may have several lines.
package struct SubordinateIDs: Sendable, Hashable {
    package struct Entry: Sendable, Hashable {
        package var owner: String
        package var range: SubordinateIDRange
    }

    package var entries: [Entry]

    package static let uidFile = "/etc/subuid"
    package static let gidFile = "/etc/subgid"

    /// Parses the file's text. Blank lines, `#` comments and malformed lines are skipped, as the shadow
    /// tools do.
    package init(parsing text: String) {
        entries = []
        for line in text.split(whereSeparator: { $0 == "\n" }) {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = trimmed.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count == 3, !fields[0].isEmpty,
                let start = UInt32(fields[1].trimmingSpaces), let count = UInt32(fields[2].trimmingSpaces),
                count > 0, UInt64(start) + UInt64(count) <= UInt64(UInt32.max) + 1
            else { continue }
            entries.append(Entry(owner: String(fields[0]), range: SubordinateIDRange(start: start, count: count)))
        }
    }

    /// Reads and parses `path`; a missing file is an empty one (no ranges for anyone).
    package init(contentsOf path: String) throws(SystemError) {
        self.init(parsing: try SmallTextFile.read(path) ?? "")
    }

    /// The ranges of the user with login `name` or numeric id `uid`, in file order (the order newuidmap
    /// accepts them in).
    package func ranges(user name: String?, uid: UInt32) -> [SubordinateIDRange] {
        let uidText = String(uid)
        return entries.filter { $0.owner == uidText || (name != nil && $0.owner == name) }.map(\.range)
    }
}

/// One line of a `uid_map`/`gid_map`: ids `inside..<inside+count` are host ids `outside..<outside+count`.
package struct IDMapping: Sendable, Hashable {
    package var inside: UInt32
    package var outside: UInt32
    package var count: UInt32

    package init(inside: UInt32, outside: UInt32, count: UInt32) {
        self.inside = inside
        self.outside = outside
        self.count = count
    }

    /// The map img uses: 0 → `caller`, then 1, 2, … → the subordinate ranges in order, up to `total` ids
    /// beyond 0 (65536 by default: enough for `chown` to any id below 65536 inside).
    package static func rootlessMap(caller: UInt32, ranges: [SubordinateIDRange], total: UInt32 = 65536) -> [IDMapping] {
        var result = [IDMapping(inside: 0, outside: caller, count: 1)]
        var next: UInt32 = 1
        var remaining = total
        for range in ranges where remaining > 0 {
            let count = min(range.count, remaining)
            result.append(IDMapping(inside: next, outside: range.start, count: count))
            next += count
            remaining -= count
        }
        return result
    }

    /// The host id that `id` inside maps to under `map`, or nil if unmapped.
    package static func outside(_ id: UInt32, in map: [IDMapping]) -> UInt32? {
        for line in map where id >= line.inside && UInt64(id) < UInt64(line.inside) + UInt64(line.count) {
            return line.outside + (id - line.inside)
        }
        return nil
    }

    /// The arguments `newuidmap`/`newgidmap` take after the pid: `inside outside count` triples.
    package static func arguments(_ map: [IDMapping]) -> [String] {
        map.flatMap { [String($0.inside), String($0.outside), String($0.count)] }
    }

    /// Parses `/proc/<pid>/uid_map` text.
    package static func parse(procMap text: String) -> [IDMapping] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count == 3, let inside = UInt32(fields[0]), let outside = UInt32(fields[1]),
                let count = UInt32(fields[2])
            else { return nil }
            return IDMapping(inside: inside, outside: outside, count: count)
        }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text.removeLast() }
        return text
    }
}
