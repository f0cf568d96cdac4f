import ArgumentParser
import Foundation
import Img
import ImgContent
import ImgOCI

extension GlobalOptions {
    /// Opens the state directory (creating it on first use).
    func openState() throws -> StateDirectory {
        try StateDirectory(root: stateDirectory().path)
    }

    /// The engine over this state directory and snapshotter; `-d` lines go to `log`, warnings to stderr.
    func engine(log: CommandLog? = nil) -> ImgEngine {
        let log = log ?? CommandLog(debug: debug)
        return ImgEngine(stateDirectory: stateDirectory().path, backend: backend.choice,
                         debug: { log.debug($0) }, warn: { StandardError.print($0) })
    }
}

/// Parses a user-given image name, naming it in the error.
func parseReference(_ text: String) throws -> Reference {
    try Reference(parsing: text)
}

/// Human-readable sizes and ages as docker prints them (`1.2MiB`, `2 hours ago`).
enum HumanFormat {
    static func size(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        // Up to 4 significant digits, trailing zeros dropped, like docker's units.BytesSize.
        var text = String(format: "%.4g", value)
        if text.contains("e") { text = String(format: "%.0f", value) }
        return text + units[unit]
    }

    static func age(since date: Date, now: Date = Date()) -> String {
        let seconds = max(0, now.timeIntervalSince(date))
        let minutes = seconds / 60, hours = minutes / 60, days = hours / 24
        let text: String
        switch seconds {
        case ..<1: text = "Less than a second"
        case ..<2: text = "1 second"
        case ..<60: text = "\(Int(seconds)) seconds"
        case ..<120: text = "About a minute"
        case ..<3600: text = "\(Int(minutes)) minutes"
        case ..<(1.5 * 3600): text = "About an hour"
        case ..<(48 * 3600): text = "\(Int(hours.rounded())) hours"
        case ..<(14 * 86400): text = "\(Int(days)) days"
        case ..<(60 * 86400): text = "\(Int(days / 7)) weeks"
        case ..<(730 * 86400): text = "\(Int(days / 30)) months"
        default: text = "\(Int(days / 365)) years"
        }
        return text + " ago"
    }

    /// Left-aligned columns separated by at least three spaces (the layout of docker's tables).
    static func table(_ rows: [[String]]) -> String {
        guard let columns = rows.map(\.count).max() else { return "" }
        var widths = Array(repeating: 0, count: columns)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i] + 3, withPad: " ", startingAt: 0)
            }.joined()
        }.joined(separator: "\n") + "\n"
    }
}

/// `-f/--filter`, shared by `ls` and `du`: `reference=PATTERN` (a glob over the full or short name) or
/// `digest=sha256:…`, repeatable; an image must pass every filter.
struct ImageFilterFlags: ParsableArguments {
    @Option(name: [.customShort("f"), .customLong("filter")], help: ArgumentHelp("Filter: reference=PATTERN or digest=DIGEST (repeatable).", valueName: "filter"))
    var values: [String] = []

    func parsed() throws -> [ImageFilter] {
        try values.map { item in
            guard let eq = item.firstIndex(of: "=") else {
                throw CommandError("invalid filter \"\(item)\": expected reference=PATTERN or digest=DIGEST")
            }
            let key = item[..<eq], value = String(item[item.index(after: eq)...])
            switch key {
            case "reference", "name": return .pattern(value)
            case "digest": return .digest(try Digest(parsing: value))
            default: throw CommandError("invalid filter \"\(item)\": unknown key \"\(key)\" (use reference or digest)")
            }
        }
    }

    /// The images passing every filter, sorted by name.
    static func images(passing filters: [ImageFilter], in state: StateDirectory) async throws -> [ImageRecord] {
        var records = try await state.images.list(filters.first ?? .all)
        for filter in filters.dropFirst() {
            let keep = Set(try await state.images.list(filter).map(\.name))
            records.removeAll { !keep.contains($0.name) }
        }
        return records.sorted { $0.name.description < $1.name.description }
    }
}
