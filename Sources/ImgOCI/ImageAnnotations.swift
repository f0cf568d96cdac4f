/// `img build --annotation`: OCI annotations for the manifests, the index and their descriptors that the
/// build's outputs write, as buildx names the places (`manifest:`, `index:`, `manifest-descriptor:`,
/// `index-descriptor:`, each optionally with `[os/arch]` for one platform's manifest).
package struct ImageAnnotations: Sendable, Hashable {
    package enum Level: String, Sendable, Hashable, CaseIterable {
        case manifest
        case index
        case manifestDescriptor = "manifest-descriptor"
        case indexDescriptor = "index-descriptor"
    }

    package struct Entry: Sendable, Hashable {
        package var level: Level
        /// Only this platform's manifest (or its descriptor); nil is every platform's.
        package var platform: Platform?
        package var key: String
        package var value: String

        package init(level: Level, platform: Platform? = nil, key: String, value: String) {
            self.level = level
            self.platform = platform
            self.key = key
            self.value = value
        }
    }

    package var entries: [Entry]

    package init(_ entries: [Entry] = []) { self.entries = entries }

    package var isEmpty: Bool { entries.isEmpty }

    /// The annotations at `level` for `platform` (nil: the index levels, which name no platform); nil when
    /// there are none, so JSON without annotations stays as it was. A later entry wins over an earlier one.
    package func values(_ level: Level, platform: Platform? = nil) -> [String: String]? {
        var values: [String: String] = [:]
        for entry in entries where entry.level == level {
            if let wanted = entry.platform {
                guard let platform, platform.normalized == wanted.normalized || platform.matches(wanted) else { continue }
            }
            values[entry.key] = entry.value
        }
        return values.isEmpty ? nil : values
    }

    /// `existing` with the annotations at `level` added (they win over what was there).
    package func merged(_ level: Level, platform: Platform? = nil, into existing: [String: String]?) -> [String: String]? {
        guard let added = values(level, platform: platform) else { return existing }
        return (existing ?? [:]).merging(added) { _, new in new }
    }
}
