/// The RFC 3339 form of a point in time that image configs and history use (`2024-06-01T00:00:00Z`): UTC,
/// whole seconds, as docker writes them.
///
/// Written out here because Foundation's `ISO8601DateFormatter` opens an ICU calendar for every call, a
/// measurable part of a small rebuild that stamps several steps.
package enum RFC3339 {
    /// `secondsSince1970` in UTC, e.g. 0 → `1970-01-01T00:00:00Z`. Years outside 0...9999 are clamped,
    /// as RFC 3339 has four-digit years only.
    package static func string(secondsSince1970 seconds: Int64) -> String {
        let lowest: Int64 = -62_167_219_200  // 0000-01-01T00:00:00Z
        let highest: Int64 = 253_402_300_799  // 9999-12-31T23:59:59Z
        let clamped = min(max(seconds, lowest), highest)
        let days = clamped >= 0 ? clamped / 86_400 : (clamped - 86_399) / 86_400
        let secondOfDay = clamped - days * 86_400
        let (year, month, day) = civil(daysSince1970: days)
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T"
            + pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2) + "Z"
    }

    /// Proleptic Gregorian date of a day count, counted in 400-year eras that start on 1 March so the leap
    /// day falls at the end of each year.
    package static func civil(daysSince1970: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = daysSince1970 + 719_468  // days from 0000-03-01 to 1970-01-01
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
