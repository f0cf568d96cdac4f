extension Duration {
    package var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }

    /// Seconds with `decimals` places, rounded half up ("1.250"); String(format:) would go through
    /// CVarArg casts that cost a conformance scan on first use.
    package func fixed(_ decimals: Int) -> String {
        var scale: Int64 = 1
        for _ in 0..<decimals { scale *= 10 }
        let (seconds, attoseconds) = components
        let unit = 1_000_000_000_000_000_000 / scale   // attoseconds per last place
        let total = max(0, seconds) * scale + (max(0, attoseconds) + unit / 2) / unit
        guard decimals > 0 else { return String(total) }
        let fraction = String(total % scale)
        return String(total / scale) + "." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }
}
