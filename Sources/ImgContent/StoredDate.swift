import Foundation
import GRDB
import ImgOCI

/// A date in img.db, in the text form GRDB gives a `Date` ("yyyy-MM-dd HH:mm:ss.SSS", UTC), so old and new
/// rows compare alike in SQL; but made and read with integer arithmetic. GRDB goes through a DateFormatter
/// and a Calendar, whose first use loads ICU's data: a few milliseconds of every command that touches a
/// lease, an image or a cache record.
struct StoredDate: DatabaseValueConvertible, Sendable {
    var date: Date

    init(_ date: Date) { self.date = date }

    var databaseValue: DatabaseValue { Self.text(date).databaseValue }

    static func fromDatabaseValue(_ value: DatabaseValue) -> StoredDate? {
        if case .string(let text) = value.storage, let date = Self.parse(text) { return StoredDate(date) }
        // Anything else GRDB itself understands (a number, another SQLite date form).
        return Date.fromDatabaseValue(value).map(StoredDate.init)
    }

    static func text(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (days, inDay) = floorDivision(milliseconds, 86_400_000)
        let (year, month, day) = RFC3339.civil(daysSince1970: days)
        let seconds = inDay / 1000
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + " " + pad(seconds / 3600, 2) + ":"
            + pad(seconds / 60 % 60, 2) + ":" + pad(seconds % 60, 2) + "." + pad(inDay % 1000, 3)
    }

    /// "yyyy-MM-dd HH:mm:ss[.SSS]" (or with a "T"), nil for anything else.
    static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count == 19 || (b.count > 20 && b[19] == UInt8(ascii: ".")),
              b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: " ") || b[10] == UInt8(ascii: "T"),
              b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
              let year = number(b, 0, 4), let month = number(b, 5, 2), let day = number(b, 8, 2),
              let hour = number(b, 11, 2), let minute = number(b, 14, 2), let second = number(b, 17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var fraction = 0.0
        if b.count > 20 {
            var scale = 0.1
            for digit in b[20...] {
                guard (48...57).contains(digit) else { return nil }
                fraction += Double(digit - 48) * scale
                scale /= 10
            }
        }
        let days = Self.days(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    // MARK: proleptic Gregorian calendar in days since 1970-01-01 (H. Hinnant's algorithms; the other
    // direction is RFC3339.civil)

    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func floorDivision(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        let q = a >= 0 ? a / b : -((-a + b - 1) / b)
        return (q, a - q * b)
    }

    private static func number(_ bytes: [UInt8], _ start: Int, _ count: Int) -> Int64? {
        var value: Int64 = 0
        for digit in bytes[start..<start + count] {
            guard (48...57).contains(digit) else { return nil }
            value = value * 10 + Int64(digit - 48)
        }
        return value
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
