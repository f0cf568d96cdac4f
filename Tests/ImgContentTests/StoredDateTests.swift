import Foundation
import GRDB
import ImgTestSupport
@testable import ImgContent
import Testing

/// img.db's dates are written and read without Foundation's calendars, in exactly the text GRDB writes for a
/// `Date`, so rows written either way compare alike in SQL.
@Suite struct StoredDateTests {
    static let samples: [Double] = [
        0, 0.999, 1, 59.5, 86_399.999, 86_400, -1, -0.001, -86_400, -2_208_988_800 /* 1900-01-01 */,
        951_782_400 /* 2000-02-29 */, 951_868_800, 1_709_164_800 /* 2024-02-29 */, 4_107_542_400 /* 2100-03-01 */,
        1_800_000_000.123, 1_764_201_600.5, 253_402_300_799 /* 9999-12-31 23:59:59 */, 1_800_000_000.1234,
        1_800_000_000.1236,
    ]

    @Test func textIsWhatGRDBWrites() {
        for seconds in Self.samples {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(StoredDate(date).databaseValue == date.databaseValue, "\(seconds)")
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let date = Date(timeIntervalSince1970: Double(Int64.random(in: -5_000_000_000_000...5_000_000_000_000, using: &generator)) / 1000)
            #expect(StoredDate(date).databaseValue == date.databaseValue, "\(date.timeIntervalSince1970)")
        }
    }

    @Test func readsWhatGRDBWritesAndWhatItWrites() {
        for seconds in Self.samples {
            let date = Date(timeIntervalSince1970: seconds)
            let grdb = Date.fromDatabaseValue(date.databaseValue)!.timeIntervalSince1970
            // The same instant to the millisecond the text keeps (the two sums round differently).
            #expect(abs(StoredDate.fromDatabaseValue(date.databaseValue)!.date.timeIntervalSince1970 - grdb) < 0.000_01, "\(seconds)")
            #expect(abs(StoredDate.fromDatabaseValue(StoredDate(date).databaseValue)!.date.timeIntervalSince1970 - grdb) < 0.000_01,
                    "\(seconds)")
        }
        // Other forms SQLite and GRDB accept still read (through GRDB), garbage does not.
        #expect(StoredDate.fromDatabaseValue("2026-11-27T10:20:30".databaseValue)?.date.timeIntervalSince1970 == 1_795_774_830)
        #expect(StoredDate.fromDatabaseValue("2026-11-27".databaseValue)?.date.timeIntervalSince1970 == 1_795_737_600)
        #expect(StoredDate.fromDatabaseValue(1_000.5.databaseValue)?.date.timeIntervalSince1970 == 1_000.5)
        #expect(StoredDate.fromDatabaseValue("yesterday".databaseValue) == nil)
    }
}
