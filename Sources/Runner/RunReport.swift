/// What a run did, for the summary, `--json` and the exit code.
public struct RunReport: Codable, Sendable {
    public var runID: Int
    public var dryRun: Bool
    public var startedAt: Double
    public var duration: Double
    public var fromPosition: Int
    public var toPosition: Int
    /// The journal's end (last complete line) when the run started.
    public var journalEnd: Int
    /// Lines read and accepted as events.
    public var events: Int
    public var rejects: Int
    /// Failed attempts recorded by this run (new failures and failed retries).
    public var failures: Int
    /// Failures this run cleared (a retry or a new event succeeded).
    public var recovered: Int
    public var batches: Int
    public var jobs: [JobReport]
    /// Whether the run stopped because of `--max-events` or `--max-seconds` with work left.
    public var stoppedEarly: Bool
    /// Webhook notifications written to the outbox and deliveries attempted by this run.
    public var notificationsQueued = 0
    public var deliveries = DeliveryReport()
    /// Where the run's time went.
    public var timings = RunTimings()
    /// The process's peak resident memory, in bytes, when the run ended.
    public var peakMemoryBytes: Int = 0
    /// Round trips to the database server (PostgreSQL), nil on SQLite.
    public var databaseRoundTrips: Int?
    /// Transactions the database rolled back for a concurrent one's sake (a serialization failure
    /// or deadlock) and the run did again.
    public var conflictRetries = 0
    /// On an events table, the job segments stopped at a failing key when the run ended (this
    /// run's failures or an earlier one's, still waiting for their retry): their keys are behind.
    public var failingSegments = 0

    /// What the run came to, for the exit code (the executable maps it, SPEC §6).
    public var outcome: Outcome {
        if failures > 0 || failingSegments > 0 { return .failures }
        if rejects > 0 { return .rejects }
        return stoppedEarly ? .stoppedEarly : .caughtUp
    }

    /// What a finished run came to.
    public enum Outcome: String, Codable, Sendable {
        /// Nothing rejected or failed, and the run reached the journal's end.
        case caughtUp
        /// Nothing rejected or failed; `--max-events` or `--max-seconds` stopped it with work left.
        case stoppedEarly
        /// Lines were rejected (and no key failed).
        case rejects
        /// Keys failed.
        case failures

        /// Whether nothing was rejected and nothing failed.
        public var isClean: Bool { self == .caughtUp || self == .stoppedEarly }
    }

    public var caughtUp: Bool { !stoppedEarly && toPosition >= journalEnd }
}

/// Seconds spent in each phase of a run.
public struct RunTimings: Codable, Sendable {
    /// Reading the journal, scanning lines, routing and keying events.
    public var readDecode = 0.0
    /// Grouping keyed events per job and key, sorting keys.
    public var group = 0.0
    /// Executing statements: the jobs', savepoints, checkpoints, rejects, de-duplication.
    public var sql = 0.0
    /// BEGIN and COMMIT.
    public var commit = 0.0
    /// Writing the outbox and delivering webhooks.
    public var webhooks = 0.0

    public init() {}
}

/// One job's part of a run.
public struct JobReport: Codable, Sendable {
    public var name: String
    public var mode: String
    public var fromPosition: Int
    public var toPosition: Int
    /// Events past this job's checkpoint that it matched (an event keyed twice counts once);
    /// events of types the job does not listen to are not counted.
    public var events: Int = 0
    /// Refresh: keys refreshed, once per batch that touched a key (a dry run: distinct keys).
    /// Apply: events applied.
    public var executions: Int = 0
    /// Events whose `id` was seen before (apply jobs skip them).
    public var duplicates: Int = 0
    public var failures: Int = 0
    /// Events held back for a parked key, the failed event included (as `failures list` counts them).
    public var held: Int = 0
    /// Keys held back because a key they read in an upstream job (`after:`) failed.
    public var waiting: Int = 0
    public var rejects: Int = 0
    /// Keys refreshed or applied, in order (the first 1000, a key once per batch), and how many (for `--json`).
    public var keys: [String] = []
    public var keysTotal: Int = 0
    /// Set when a new refresh job was initialized from `@keys` instead of replaying history.
    public var initialized = false

    public init(name: String, mode: String, fromPosition: Int, toPosition: Int) {
        self.name = name
        self.mode = mode
        self.fromPosition = fromPosition
        self.toPosition = toPosition
    }

    public static let keysCap = 1000

    mutating func touch(_ key: String) {
        keysTotal += 1
        if keys.count < Self.keysCap { keys.append(key) }
    }
}
