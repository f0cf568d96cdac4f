/// Go's `time.ParseDuration` syntax (`30s`, `1m30s`, `1.5h`, `500ms`), which HEALTHCHECK flags use.
enum GoDuration {
    enum Failure: Error, Equatable {
        /// Not duration syntax at all.
        case syntax
        /// Well-formed but beyond what int64 nanoseconds hold (about 292 years), as Go rejects it too.
        case outOfRange
    }

    /// Go's own bound, for messages.
    static let maximum = "2562047h47m16.854775807s"

    static func parse(_ text: String) throws(Failure) -> Duration {
        var rest = Substring(text)
        var negative = false
        if rest.first == "-" || rest.first == "+" {
            negative = rest.first == "-"
            rest.removeFirst()
        }
        if rest == "0" { return .zero }
        guard !rest.isEmpty else { throw .syntax }
        var total = 0.0 // nanoseconds
        let units: [(String, Double)] = [
            ("ns", 1), ("us", 1e3), ("µs", 1e3), ("μs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
        ]
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, number != ".", let value = Double(number) else { throw .syntax }
            rest = rest.dropFirst(number.count)
            // Longest unit first so that `ms` is not read as `m` followed by `s`.
            guard let unit = units.filter({ rest.hasPrefix($0.0) }).max(by: { $0.0.count < $1.0.count }) else {
                throw .syntax
            }
            rest = rest.dropFirst(unit.0.count)
            total += value * unit.1
        }
        // Int64(_:) traps past Int64.max (and on inf/NaN from a 400-digit number); 2^63 is the first
        // Double that does not fit, so everything below it converts safely.
        guard total.isFinite, total + 0.5 < 9_223_372_036_854_775_808.0 else { throw .outOfRange }
        let nanos = Int64(total + 0.5)  // no libm here: .rounded() would not link
        return .nanoseconds(negative ? -nanos : nanos)
    }
}
