/// When a failed key is tried again, and when it is given up as dead (SPEC §4 step 5).
public struct RetryPolicy: Sendable, Equatable {
    /// The delay before the second attempt; each further attempt doubles it.
    public var baseDelay: Double
    public var maxDelay: Double
    /// After this many failed attempts the failure is dead until an operator retries or discards it.
    public var maxAttempts: Int

    public init(baseDelay: Double = 30, maxDelay: Double = 3600, maxAttempts: Int = 5) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxAttempts = maxAttempts
    }

    public static let `default` = RetryPolicy()

    /// Seconds to wait after the `attempts`-th failure (1-based).
    public func delay(afterAttempt attempts: Int) -> Double {
        let exponent = max(0, min(attempts - 1, 40))
        return min(maxDelay, baseDelay * Double(1 << UInt64(exponent)))
    }

    public func isDead(attempts: Int) -> Bool { attempts >= maxAttempts }
}
