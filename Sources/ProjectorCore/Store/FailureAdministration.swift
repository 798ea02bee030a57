/// The operator's view of failed keys (`projector failures list|retry|discard`); forgetting one is
/// `FailureStore.clearFailure`.
public protocol FailureAdministration {
    /// Open failures matching `filter`, by job then first failed position, each with the number of
    /// events held back behind it.
    func failures(matching filter: FailureFilter) throws(StoreError) -> [FailureListing]
    /// Makes the matching failures due at `now` with a fresh attempt count (an apply key parked, a
    /// refresh key retrying): the next run tries them again. Returns how many.
    func retryFailures(matching filter: FailureFilter, now: Double) throws(StoreError) -> Int
}

/// Which failures an operator command concerns; nil matches any.
public struct FailureFilter: Sendable, Equatable {
    public var job: String?
    public var key: String?
    public var state: FailureState?

    public init(job: String? = nil, key: String? = nil, state: FailureState? = nil) {
        self.job = job
        self.key = key
        self.state = state
    }
}

/// An open failure as the operator sees it.
public struct FailureListing: Sendable, Equatable {
    public var failure: FailureRecord
    public var mode: JobDefinition.Mode
    public var lastFailedAt: Double
    /// Events held back behind the key (apply jobs).
    public var heldEvents: Int

    public init(failure: FailureRecord, mode: JobDefinition.Mode, lastFailedAt: Double, heldEvents: Int) {
        self.failure = failure
        self.mode = mode
        self.lastFailedAt = lastFailedAt
        self.heldEvents = heldEvents
    }
}
