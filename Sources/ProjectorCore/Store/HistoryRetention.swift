/// What a run deletes of the runner's records that would otherwise grow with time or with the
/// journal: runs and delivered notifications older than the retention period, and rejects of
/// lines `journal prune` removed. Each call does a bounded amount of work (at most `limit` rows of
/// each kind, oldest first), so a backlog is worked off over several runs, never in one long
/// transaction.
public protocol HistoryRetention {
    func prune(_ pruning: HistoryPruning) throws(StoreError) -> PrunedHistory
}

/// What to prune.
public struct HistoryPruning: Sendable, Equatable {
    /// Runs that started and notifications that were delivered before this time go.
    public var before: Double
    /// The run doing the pruning: kept, whatever its age.
    public var currentRun: Int
    /// The journal's first position: rejects of lines before it go (no job can read them again).
    public var journalStart: Int
    /// The most rows of each kind one call deletes.
    public var limit: Int

    public init(before: Double, currentRun: Int, journalStart: Int, limit: Int) {
        self.before = before
        self.currentRun = currentRun
        self.journalStart = journalStart
        self.limit = limit
    }
}

/// How many rows of each kind a call deleted.
public struct PrunedHistory: Sendable, Equatable {
    public var runs = 0
    public var notifications = 0
    public var rejects = 0

    public init(runs: Int = 0, notifications: Int = 0, rejects: Int = 0) {
        self.runs = runs
        self.notifications = notifications
        self.rejects = rejects
    }

    public var total: Int { runs + notifications + rejects }
}
