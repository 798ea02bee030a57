public import ProjectorCore
public import Webhooks

/// Everything a run needs to know, gathered by the CLI from flags and environment.
public struct RunOptions: Sendable {
    public var databasePath: String
    public var journalPath: String
    public var jobsDirectory: String
    /// Other SQLite files ATTACHed to the jobs' database: (schema name, path, read-only).
    public var attachments: [Attachment] = []
    /// Only these jobs (nil: all).
    public var selectedJobs: [String]?
    /// Whether a selection also runs the jobs the selected ones depend on (`after:`), so that a
    /// dependent job never reads an upstream table that lags behind it. Off only for the scratch
    /// build of `rebuild`, which reads the upstream tables of the live database.
    public var includeUpstreamJobs = true
    /// Whether this run tells webhook consumers about its work. Off for the scratch build of
    /// `rebuild` and `verify`: the swap into the live database notifies instead.
    public var notifiesConsumers = true
    /// The configuration file the options came from, for messages about what it says.
    public var configurationPath: String?

    /// Upper bounds of one batch (one transaction).
    public var batchEvents = 20_000
    public var batchBytes = 16 << 20
    /// Target for how long one transaction may hold the write lock; batches shrink to stay under it.
    public var batchMilliseconds = 250.0

    public var maxEvents: Int?
    public var maxSeconds: Double?
    public var dryRun = false
    /// Wait for the lock instead of exiting with 75.
    public var waitForLock = false
    /// Wait at most this many seconds for the lock, then exit with 75 (nil: no bound). Given
    /// alone, it implies waiting.
    public var lockTimeout: Double?
    /// How long apply jobs remember the ids of the events they handled (duplicates within it are skipped).
    public var duplicateWindow = DuplicateWindow.default
    /// The 64-bit hash of an event id that keys the de-duplication table (nil: FNV-1a). Tests
    /// give one that collides, to prove a collision never drops an event.
    package var eventIDHash: (@Sendable (UnsafeRawBufferPointer) -> UInt64)?
    public var maxLineBytes = 1 << 20
    public var maxDepth = 64
    public var retry = RetryPolicy.default
    public var busyTimeoutMilliseconds: Int32 = 5000
    public var synchronous = "NORMAL"
    /// Configured webhook endpoints (with secrets resolved).
    public var endpoints: [WebhookEndpoint] = []
    /// The most time a run spends delivering webhooks after its work is committed.
    public var webhookBudget: Double = 15
    /// Whether a run delivers due webhooks at all (off for tests of the outbox alone).
    public var deliverWebhooks = true
    /// Set when the caller already holds the run lock (`--watch`, `rebuild`).
    public var lockHeld = false
    /// On PostgreSQL, the job whose scratch build `rebuild` runs: the run works in that job's
    /// rebuild schemas instead of the live ones (nil: a live run).
    var postgresRebuildJob: String?
    /// How long runs and delivered notifications are kept (configuration `retentionDays`).
    public var retentionDays = 30.0
    /// On PostgreSQL, statements per round trip in an optimistic batch (configuration
    /// `postgresPipelineDepth`; 1: each on its own).
    public var postgresPipelineDepth = 1000
    /// On PostgreSQL, the schema of the runner's tables (configuration `postgresSchema`, flag
    /// `--postgres-schema`): two installations in one database keep apart by their schemas.
    public var postgresSchema = "projector"
    /// On an events table, this runner's name among the runners sharing the work (`--runner`;
    /// default HOST-PID).
    public var runnerName: String?
    /// On an events table, seconds without a heartbeat after which the other runners take a
    /// runner's segments although its connection is still there (`--runner-timeout`).
    public var runnerTimeout = 5.0
    /// The most rows of each kind (runs, delivered notifications, rejects) one run prunes.
    public var pruneLimit = 1_000
    /// Set by `--watch`: a run that finds nothing to do shares one "idle" row with the idle runs
    /// before it instead of adding its own (a one-shot run always records its row).
    public var collapsesIdleRuns = false
    /// Asked before each batch: true stops the run there (SIGTERM/SIGINT), after the batch in
    /// flight has committed.
    public var shouldStop: (@Sendable () -> Bool)?
    /// The exit code a finished run's outcome maps to, recorded with the run for `status` and the
    /// metrics (the executable decides it; nil records none).
    public var exitCode: (@Sendable (RunReport.Outcome) -> Int32)?
    /// Told after each batch how far the run is (for a progress bar).
    public var progress: (@Sendable (RunProgress) -> Void)?

    public init(databasePath: String, journalPath: String, jobsDirectory: String) {
        self.databasePath = databasePath
        self.journalPath = journalPath
        self.jobsDirectory = jobsDirectory
    }

    public var lockPath: String { databasePath + ".lock" }

    /// The events table named by a journal of the form `postgres:TABLE` (`postgres:app.events`):
    /// the events are read from that table of the PostgreSQL database, by any number of runners
    /// (SPEC §10). nil for a journal file or directory.
    public var eventsTableName: String? {
        journalPath.hasPrefix(Self.eventsTablePrefix)
            ? String(journalPath.dropFirst(Self.eventsTablePrefix.count)) : nil
    }

    /// What a journal naming an events table starts with.
    public static let eventsTablePrefix = "postgres:"

    /// The connection string when `--database` names a PostgreSQL database, nil for an SQLite file.
    public var postgresConnection: String? { Self.postgresConnection(databasePath) }

    /// `database` as a PostgreSQL connection string: a `postgres://` or `postgresql://` URL, or a
    /// libpq `keyword=value …` string starting with one of libpq's keywords (`host=`, `dbname=`, …).
    public static func postgresConnection(_ database: String) -> String? {
        if database.hasPrefix("postgres://") || database.hasPrefix("postgresql://") { return database }
        let keywords = ["host", "hostaddr", "port", "dbname", "user", "service", "sslmode", "application_name"]
        for keyword in keywords where database.hasPrefix(keyword + "=") { return database }
        return nil
    }
}

/// How far a run is, after a batch.
public struct RunProgress: Sendable {
    public var from: Int
    public var position: Int
    public var end: Int
    public var events: Int
    public var seconds: Double
}
