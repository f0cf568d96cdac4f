/// Bounded exponential backoff for 429, 5xx and dropped connections.
package struct RetryPolicy: Sendable, Hashable {
    /// Tries in all, the first included.
    package var maxAttempts: Int
    package var initialDelay: Duration
    package var maxDelay: Duration
    /// No retry starts once this much time has passed since the first try.
    package var maxTotal: Duration

    package init(maxAttempts: Int = 5, initialDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(5),
                 maxTotal: Duration = .seconds(90)) {
        self.maxAttempts = maxAttempts
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.maxTotal = maxTotal
    }

    package static let none = RetryPolicy(maxAttempts: 1)

    /// The wait before try number `attempt + 1` (`attempt` counts from 1), with up to 25% jitter so parallel
    /// layer downloads do not retry in lock-step. A server's `Retry-After` wins when it is shorter than `maxDelay`.
    func delay(after attempt: Int, retryAfter: Duration? = nil) -> Duration {
        if let retryAfter, retryAfter <= maxDelay { return retryAfter }
        var d = initialDelay
        for _ in 1..<max(attempt, 1) where d < maxDelay { d *= 2 }
        d = min(d, maxDelay)
        return d + d * Double.random(in: 0...0.25)
    }
}

/// Tracks one operation's retries against a `RetryPolicy`.
struct RetryBudget {
    let policy: RetryPolicy
    let start = ContinuousClock.now
    private(set) var attempt = 1

    init(_ policy: RetryPolicy) { self.policy = policy }

    /// Sleeps and returns true when another try is allowed.
    mutating func shouldRetry(retryAfter: Duration? = nil) async -> Bool {
        guard attempt < policy.maxAttempts else { return false }
        let wait = policy.delay(after: attempt, retryAfter: retryAfter)
        guard ContinuousClock.now - start + wait <= policy.maxTotal else { return false }
        attempt += 1
        do { try await Task.sleep(for: wait) } catch { return false }
        return true
    }
}
