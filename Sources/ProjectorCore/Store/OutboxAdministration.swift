/// The operator's view of the webhook outbox (`projector webhooks list|retry`).
public protocol OutboxAdministration {
    /// The notifications matching `filter`.
    func outboxRows(matching filter: OutboxFilter) throws(StoreError) -> [OutboxRow]
    /// Makes the matching notifications pending again now, with a fresh attempt count, and
    /// re-enables their endpoints. Returns how many.
    func requeue(matching filter: OutboxFilter, now: Double) throws(StoreError) -> Int
}

/// Which notifications of the outbox a command concerns.
public struct OutboxFilter: Sendable, Equatable {
    public enum Order: Sendable, Equatable {
        case oldestFirst
        case newestFirst
    }

    /// Only these states; nil: any.
    public var states: Set<OutboxState>?
    /// Only these ids; nil: any.
    public var ids: [Int]?
    /// At most this many; nil: all.
    public var limit: Int?
    public var order: Order

    public init(states: Set<OutboxState>? = nil, ids: [Int]? = nil, limit: Int? = nil, order: Order = .oldestFirst) {
        self.states = states
        self.ids = ids
        self.limit = limit
        self.order = order
    }
}
