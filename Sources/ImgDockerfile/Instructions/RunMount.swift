/// One `RUN --mount=type=...,key=value` mount.
package struct RunMount: Sendable, Hashable {
    package var type: MountType
    /// Where the mount appears in the RUN container; defaulted for secret and ssh mounts.
    package var target: String?
    package var source: String?
    /// A stage (name or index) or an image to take the files from (bind and cache).
    package var from: String?
    package var readOnly: Bool
    /// Cache id, secret id or ssh id.
    package var id: String?
    package var sharing: MountSharing
    package var mode: UInt32?
    package var uid: Int?
    package var gid: Int?
    /// secret and ssh: fail when the secret/agent is not provided.
    package var required: Bool
    /// tmpfs size in bytes.
    package var size: Int64?
    /// secret: expose the secret as this environment variable.
    package var env: String?

    package init(type: MountType, target: String? = nil, source: String? = nil, from: String? = nil,
                 readOnly: Bool = false, id: String? = nil, sharing: MountSharing = .shared, mode: UInt32? = nil,
                 uid: Int? = nil, gid: Int? = nil, required: Bool = false, size: Int64? = nil, env: String? = nil) {
        self.type = type
        self.target = target
        self.source = source
        self.from = from
        self.readOnly = readOnly
        self.id = id
        self.sharing = sharing
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.required = required
        self.size = size
        self.env = env
    }
}

package enum MountType: String, Sendable, Hashable, CaseIterable {
    case bind, cache, tmpfs, secret, ssh
}

package enum MountSharing: String, Sendable, Hashable, CaseIterable {
    case shared, `private`, locked
}

extension RunMount {
    /// Parses the value of one `--mount=` flag (comma-separated `key=value` fields, keys case-insensitive).
    /// `expand` is applied to values that BuildKit expands (paths, ids, from).
    package init(parsing text: String, expand: (String) throws(DockerfileError) -> String = { $0 })
        throws(DockerfileError)
    {
        var fields: [(key: String, value: String?)] = []
        for field in Self.splitFields(text) where !field.isEmpty {
            if let eq = field.firstIndex(of: "=") {
                fields.append((field[..<eq].lowercased(), String(field[field.index(after: eq)...])))
            } else {
                fields.append((field.lowercased(), nil))
            }
        }
        func fail(_ message: String) -> DockerfileError { DockerfileError("instruction", message) }
        func needValue(_ key: String, _ value: String?) throws(DockerfileError) -> String {
            guard let value else { throw fail("mount option '\(key)' needs a value in '\(text)'") }
            return value
        }
        func boolValue(_ key: String, _ value: String?) throws(DockerfileError) -> Bool {
            switch value?.lowercased() {
            case nil, "true", "1": return true
            case "false", "0": return false
            case let other?: throw fail("invalid boolean value '\(other)' for mount option '\(key)'")
            }
        }

        var type = MountType.bind
        if let field = fields.last(where: { $0.key == "type" }) {
            let raw = try needValue("type", field.value)
            guard let parsed = MountType(rawValue: raw.lowercased()) else {
                throw fail("unsupported mount type '\(raw)'")
            }
            type = parsed
        }
        self.init(type: type)
        var readOnlyChosen: Bool?
        for (key, value) in fields {
            switch key {
            case "type": continue
            case "target", "dst", "destination": target = try expand(try needValue(key, value))
            case "source", "src": source = try expand(try needValue(key, value))
            case "from": from = try expand(try needValue(key, value))
            case "id": id = try expand(try needValue(key, value))
            case "readonly", "ro": readOnlyChosen = try boolValue(key, value)
            case "readwrite", "rw": readOnlyChosen = !(try boolValue(key, value))
            case "required": required = try boolValue(key, value)
            case "env": env = try expand(try needValue(key, value))
            case "sharing":
                let raw = try needValue(key, value)
                guard let parsed = MountSharing(rawValue: raw.lowercased()) else {
                    throw fail("unsupported sharing value '\(raw)'; use shared, private or locked")
                }
                sharing = parsed
            case "mode":
                let raw = try needValue(key, value)
                guard let parsed = UInt32(raw, radix: 8) else { throw fail("invalid mount mode '\(raw)'") }
                mode = parsed
            case "uid", "gid":
                let raw = try expand(try needValue(key, value))
                guard let parsed = Int(raw), parsed >= 0 else { throw fail("invalid mount \(key) '\(raw)'") }
                if key == "uid" { uid = parsed } else { gid = parsed }
            case "size":
                let raw = try needValue(key, value)
                guard let parsed = Self.parseSize(raw) else { throw fail("invalid mount size '\(raw)'") }
                size = parsed
            default:
                throw fail("unexpected key '\(key)' in '\(text)'")
            }
        }
        try validateAndDefault(readOnlyChosen: readOnlyChosen)
    }

    private mutating func validateAndDefault(readOnlyChosen: Bool?) throws(DockerfileError) {
        func fail(_ message: String) -> DockerfileError { DockerfileError("instruction", message) }
        // BuildKit: bind mounts are read-only unless asked otherwise; cache and tmpfs are writable.
        readOnly = readOnlyChosen ?? (type == .bind || type == .secret || type == .ssh)
        if from != nil, type != .bind, type != .cache {
            throw fail("'from' is not supported for mount type=\(type.rawValue)")
        }
        if size != nil, type != .tmpfs { throw fail("'size' is only supported for mount type=tmpfs") }
        if env != nil, type != .secret { throw fail("'env' is only supported for mount type=secret") }
        switch type {
        case .bind, .tmpfs:
            guard target?.isEmpty == false else { throw fail("mount type=\(type.rawValue) requires a target") }
        case .cache:
            guard let target, !target.isEmpty else { throw fail("mount type=cache requires a target") }
            if id == nil { id = target }
            if mode == nil { mode = 0o755 }
        case .secret:
            if id == nil, let target, let last = target.split(separator: "/").last { id = String(last) }
            guard let id, !id.isEmpty else { throw fail("mount type=secret requires an id or a target") }
            if target == nil, env == nil { target = "/run/secrets/" + id }
            if mode == nil { mode = 0o400 }
        case .ssh:
            if id == nil { id = "default" }
            if mode == nil { mode = 0o600 }
        }
    }

    /// Splits on commas outside double quotes (CSV-style), removing the quotes.
    private static func splitFields(_ text: String) -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false
        for ch in text {
            if ch == "\"" { quoted.toggle(); continue }
            if ch == ",", !quoted {
                fields.append(current)
                current = ""
            } else {
                current.append(ch)
            }
        }
        fields.append(current)
        return fields.map { $0.trimmingSpaces }
    }

    /// `64m`, `1g`, `512k`, `100` (bytes); binary units, as Docker's RAMInBytes reads them.
    package static func parseSize(_ text: String) -> Int64? {
        var digits = text.lowercased()
        for suffix in ["ib", "b"] where digits.hasSuffix(suffix) && digits.count > suffix.count {
            digits.removeLast(suffix.count)
            break
        }
        var multiplier: Int64 = 1
        if let last = digits.last, let power = ["k": 1, "m": 2, "g": 3, "t": 4, "p": 5][String(last)] {
            multiplier = Int64(1) << (10 * power)
            digits.removeLast()
        }
        guard let number = Double(digits.trimmingSpaces), number >= 0 else { return nil }
        let bytes = number * Double(multiplier)
        guard bytes < 9.2e18 else { return nil }
        return Int64(bytes)
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (no Foundation in this target).
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\u{0B}" || $0 == "\u{0C}" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[start...end])
    }
}
