/// When a webhook delivery is tried again, and what each outcome means (SPEC §5).
public struct DeliveryPolicy: Sendable, Equatable {
    /// Seconds to wait after the 1st, 2nd, … failed attempt; the last one repeats.
    public var schedule: [Double]
    /// After this many failed attempts the notification is dead (kept for manual redelivery).
    public var maxAttempts: Int
    /// Each delay is spread by up to ± this fraction, so retries of many notifications do not
    /// arrive in one burst.
    public var jitter: Double
    /// The longest `Retry-After` honoured.
    public var maxRetryAfter: Double

    public init(
        schedule: [Double] = [5, 300, 1800, 7200, 18_000, 36_000], maxAttempts: Int = 10, jitter: Double = 0.1,
        maxRetryAfter: Double = 86_400
    ) {
        self.schedule = schedule.isEmpty ? [60] : schedule
        self.maxAttempts = max(1, maxAttempts)
        self.jitter = jitter
        self.maxRetryAfter = maxRetryAfter
    }

    public enum Decision: Sendable, Equatable {
        case delivered
        /// Try again this many seconds from now.
        case retry(after: Double)
        /// Give up on this notification.
        case dead(String)
        /// The consumer answered 410 Gone: stop sending to this endpoint.
        case disableEndpoint
    }

    /// What to do after an attempt. `attempts` counts this one; `unit` is a random number in 0..<1.
    public func decide(
        status: Int?, configurationError: String?, retryAfter: Double?, attempts: Int, unit: Double
    ) -> Decision {
        if let status, (200..<300).contains(status) { return .delivered }
        if status == 410 { return .disableEndpoint }
        if let configurationError { return .dead("configuration: " + configurationError) }
        if attempts >= maxAttempts { return .dead("gave up after \(attempts) attempts") }
        if let status, status == 429 || status == 503, let retryAfter {
            return .retry(after: min(max(retryAfter, 0), maxRetryAfter))
        }
        let base = schedule[min(attempts - 1, schedule.count - 1)]
        return .retry(after: base * (1 + jitter * (2 * unit - 1)))
    }
}
