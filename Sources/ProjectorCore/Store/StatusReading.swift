/// The runner's records as `projector status` shows them, read in one call (a server database
/// answers it in one round trip).
public protocol StatusReading {
    /// The status, or nil when the store has no runner records yet (no run has used it).
    func status() throws(StoreError) -> StoreStatus?
}

/// What a store holds about the runs: each job's checkpoint, open failures and rejects, the
/// webhook outbox and the last run.
public struct StoreStatus: Sendable, Equatable {
    public var checkpoints: [String: Checkpoint]
    /// Per job.
    public var failures: [String: FailureCounts]
    /// Rejects recorded per job ("" for lines no job could read).
    public var rejects: [String: Int]
    /// Notifications per state; empty when there is no outbox yet.
    public var outbox: [OutboxState: Int]
    public var disabledEndpoints: Set<String>
    public var lastRun: RunRecord?
    /// The de-duplication table; nil when there is none yet.
    public var duplicateWindow: DuplicateWindowStatus?

    public init(
        checkpoints: [String: Checkpoint] = [:], failures: [String: FailureCounts] = [:], rejects: [String: Int] = [:],
        outbox: [OutboxState: Int] = [:], disabledEndpoints: Set<String> = [], lastRun: RunRecord? = nil
    ) {
        self.checkpoints = checkpoints
        self.failures = failures
        self.rejects = rejects
        self.outbox = outbox
        self.disabledEndpoints = disabledEndpoints
        self.lastRun = lastRun
    }
}

/// A job's open failures by state, and the events held back behind its parked keys.
public struct FailureCounts: Sendable, Equatable {
    public var retrying = 0
    public var parked = 0
    public var dead = 0
    public var held = 0

    public init(retrying: Int = 0, parked: Int = 0, dead: Int = 0, held: Int = 0) {
        self.retrying = retrying
        self.parked = parked
        self.dead = dead
        self.held = held
    }
}

/// One run as recorded: `finishedAt` is nil while it runs (or when it was interrupted).
public struct RunRecord: Sendable, Equatable {
    public var id: Int
    public var startedAt: Double
    public var finishedAt: Double?
    public var events: Int
    public var rejects: Int
    public var failures: Int
    public var outcome: String
    public var exitCode: Int?

    public init(
        id: Int, startedAt: Double, finishedAt: Double?, events: Int, rejects: Int, failures: Int, outcome: String,
        exitCode: Int?
    ) {
        self.id = id
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.events = events
        self.rejects = rejects
        self.failures = failures
        self.outcome = outcome
        self.exitCode = exitCode
    }
}
