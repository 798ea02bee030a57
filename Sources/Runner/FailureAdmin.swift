import ProjectorCore

/// `projector failures list|retry|discard`: what failed, and the operator's two ways out.
public struct FailureAdmin {
    let store: any OperatorStore

    /// Opens the database at `databasePath` (on PostgreSQL, the runner's tables in `postgresSchema`).
    public init(databasePath: String, postgresSchema: String = "projector") throws(RunError) {
        store = try Stores.administered(path: databasePath, schema: postgresSchema)
    }

    public struct Listing: Codable, Sendable {
        public var job: String
        public var key: String
        public var state: String
        public var mode: String
        public var attempts: Int
        public var firstPosition: Int
        public var lastPosition: Int
        public var error: String
        public var lastFailedAt: Double
        public var nextAttemptAt: Double
        public var heldEvents: Int
    }

    /// Open failures, by job then first failed position. A state that is none of retrying, parked
    /// or dead matches nothing.
    public func list(job: String? = nil, state: String? = nil) throws(RunError) -> [Listing] {
        var filter = FailureFilter(job: job)
        if let state {
            guard let known = FailureState(rawValue: state) else { return [] }
            filter.state = known
        }
        return try call { () throws(StoreError) in try store.failures(matching: filter) }.map { listing in
            let failure = listing.failure
            return Listing(
                job: failure.job, key: failure.key, state: failure.state.rawValue, mode: listing.mode.rawValue,
                attempts: failure.attempts, firstPosition: failure.firstPosition, lastPosition: failure.lastPosition,
                error: failure.error, lastFailedAt: listing.lastFailedAt, nextAttemptAt: failure.nextAttemptAt,
                heldEvents: listing.heldEvents)
        }
    }

    /// Makes failures due now with a fresh attempt count: the next run tries them again.
    public func retry(job: String?, key: String?, now: Double) throws(RunError) -> Int {
        try call { () throws(StoreError) in
            try store.retryFailures(matching: FailureFilter(job: job, key: key), now: now)
        }
    }

    /// A failure that `discard` forgot (or, in a dry run, would forget).
    public struct Discarded: Codable, Sendable {
        public var job: String
        public var key: String
        public var state: String
        public var attempts: Int
        public var firstPosition: Int
        public var lastPosition: Int
        public var error: String
        /// The journal positions of the held events dropped with it (apply keys), oldest first:
        /// these events are never applied.
        public var droppedPositions: [Int]
    }

    /// Forgets failures and says what went with them. For an apply key this also drops its held
    /// events: they will never be applied (the key goes on with new events). `dryRun` changes nothing.
    public func discard(job: String?, key: String?, onlyDead: Bool, dryRun: Bool = false) throws(RunError)
        -> [Discarded]
    {
        let filter = FailureFilter(job: job, key: key, state: onlyDead ? .dead : nil)
        return try call { () throws(StoreError) in
            try store.transaction { () throws(StoreError) in
                var discarded: [Discarded] = []
                for listing in try store.failures(matching: filter) {
                    let failure = listing.failure
                    let key = FailureKey(job: failure.job, key: failure.key)
                    discarded.append(
                        Discarded(
                            job: failure.job, key: failure.key, state: failure.state.rawValue,
                            attempts: failure.attempts, firstPosition: failure.firstPosition,
                            lastPosition: failure.lastPosition, error: failure.error,
                            droppedPositions: try store.heldEvents(of: key).map(\.position)))
                    if !dryRun { try store.clearFailure(key) }
                }
                return discarded
            }
        }
    }

    private func call<T>(_ body: () throws(StoreError) -> T) throws(RunError) -> T {
        do throws(StoreError) {
            return try body()
        } catch {
            throw .from(error)
        }
    }
}
