import Foundation
import ImgOCI
import Testing

@Suite struct RFC3339Tests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00Z"), (951_782_400, "2000-02-29T00:00:00Z"), (1_717_200_000, "2024-06-01T00:00:00Z"),
        (-1, "1969-12-31T23:59:59Z"), (-86_400, "1969-12-31T00:00:00Z"), (4_107_542_399, "2100-02-28T23:59:59Z"),
        (-62_135_596_800, "0001-01-01T00:00:00Z"), (253_402_300_799, "9999-12-31T23:59:59Z"),
        (Int64.max, "9999-12-31T23:59:59Z"), (Int64.min, "0000-01-01T00:00:00Z"),
    ])
    func knownInstants(_ seconds: Int64, _ expected: String) {
        #expect(RFC3339.string(secondsSince1970: seconds) == expected)
    }

    /// Across leap years, century rules and negative times, the same text as Foundation's formatter.
    @Test func agreesWithFoundation() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        var mismatches: [String] = []
        var seconds: Int64 = -2_208_988_800  // 1900-01-01
        while seconds < 4_133_980_800 {  // 2101-01-01
            let ours = RFC3339.string(secondsSince1970: seconds)
            let theirs = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
            if ours != theirs { mismatches.append("\(seconds): \(ours) != \(theirs)") }
            seconds += 86_400 * 13 + 3_607  // steps through every day of the week, hour and month over time
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }
}
