/// What a run needs from the database that holds the read models and the runner's own state
/// (SPEC §4): one connection, its transactions, and the runner's records. `SQLiteStore` is one
/// implementation; a server database (PostgreSQL) is meant to be another, so calls that happen
/// per event or per key take a batch's worth where it matters (rejects, event ids, held events).
///
/// A store is used by one thread at a time: the runner is synchronous.
public protocol ProjectionStore: AnyObject, StoreTransactions, CheckpointStore, RunHistory, RejectStore,
    EventIDWindow, FailureStore, NotificationOutbox, HistoryRetention
{
    /// The SQL the database speaks: job files must be written in it.
    var dialect: SQLDialect { get }

    /// Round trips to a database server so far on the store's connection (nil for an embedded
    /// database), for the run's report.
    var roundTrips: Int? { get }

    /// Creates the runner's tables if they are missing (inside the caller's transaction).
    func createSchema() throws(StoreError)

    /// Runs a job's `@setup` (idempotent DDL). Errors name the job file and line.
    func setUp(_ job: JobDefinition) throws(JobFileErrors)

    /// Prepares a job's statements against the database as it is now (after `setUp`).
    func compile(_ job: JobDefinition) throws(JobFileErrors) -> any CompiledJobStatements

    /// Empties the tables a job's `@setup` creates (a new refresh job starting from its keys).
    func clearTables(of job: JobDefinition) throws(StoreError)

    /// In one transaction, replaces a job's read model (tables and runner records) with the one
    /// built in the scratch store at `scratchPath`, and runs `also` with the new checkpoint's
    /// position in the same transaction (to queue the rebuild's notification).
    func swapIn(
        job: String, scratchPath: String, also: (Int) throws(StoreError) -> Void
    ) throws(StoreError) -> ReadModelSwap

    /// Objects of a job's tables that differ from what its `@setup` creates today.
    func setupDrift(of job: JobDefinition) -> [SetupDriftFinding]
}

/// Transactions and savepoints. `transaction` takes the write lock at once (no upgrade deadlock
/// between two writers); `rolledBack` is for work that must leave nothing behind (a dry run,
/// `validate`).
public protocol StoreTransactions {
    func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T
    func savepoint<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T
    /// A savepoint whose job statements the store may send together (PostgreSQL: a pipeline, a
    /// round trip for many statements): a failing statement may surface only when the body ends,
    /// and rolls the whole savepoint back. For optimistic batches, where any failure means going
    /// over the keys one by one anyway; a store that runs statements one at a time (SQLite) makes
    /// it a plain `savepoint`.
    func pipelinedSavepoint<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T
    func rolledBack<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T
}

/// A job's statements, prepared: the store executes them for a key or an event.
public protocol CompiledJobStatements: AnyObject {
    var definition: JobDefinition { get }
    /// Runs a refresh job's statements for one key.
    func refresh(key: String) throws(StoreError)
    /// Whether the job has `@refresh_batch`, so `refresh(keys:)` refreshes many keys in one pass.
    var refreshesInBatches: Bool { get }
    /// Refreshes every key of `keys` (order and repeats do not matter): with `@refresh_batch`, one
    /// pass of its statements over the keys in the temporary table `batch_keys`; without it, one
    /// `refresh(key:)` per key. Run it in a savepoint: when it throws, roll the savepoint back and
    /// refresh key by key, so a failing key is told apart from the others.
    func refresh(keys: [String]) throws(StoreError)
    /// Runs an apply job's statements for one event of `key`.
    func apply(_ event: EventLine, key: String) throws(StoreError)
    /// Every key of a refresh job with `@keys`, in key order.
    func allKeys() throws(StoreError) -> [String]
}

/// Each job's committed progress, saved in the transaction that commits the work it covers.
public protocol CheckpointStore {
    func checkpoints() throws(StoreError) -> [String: Checkpoint]
    func saveCheckpoint(
        job: String, anchor: CursorAnchor, fingerprint: String, eventsAdded: Int, now: Double
    ) throws(StoreError)
}

/// One row per run, kept for a bounded number of runs (and a retention period, `HistoryRetention`).
public protocol RunHistory {
    func beginRun(now: Double, from position: Int) throws(StoreError) -> Int
    func finishRun(_ run: FinishedRun) throws(StoreError)
    /// Finishes a run that found nothing to do (a watch looking at a journal that did not grow) as
    /// one row with outcome "idle": when the latest run before it is such a row too, that row
    /// takes this run's times and position and this run's row goes, so a stretch of idle looks
    /// is one row that says when the watch last looked.
    func finishIdleRun(_ run: FinishedRun) throws(StoreError)
}

/// Rejected lines, each recorded once.
public protocol RejectStore {
    /// Records each reject that is new; returns, per reject, whether it was (false: recorded, and
    /// reported, before).
    func recordRejects(_ rejects: [Reject], runID: Int, now: Double) throws(StoreError) -> [Bool]
    /// Whether a reject was recorded before (a dry run records nothing).
    func isRecorded(_ reject: Reject) throws(StoreError) -> Bool
}

/// Event ids already seen by apply jobs, within a bounded window, so they skip an event appended
/// twice (SPEC §3).
public protocol EventIDWindow {
    /// For each id, the earliest position an id with the same hash was seen at (its own position
    /// when it is the first: then it is recorded). A position before the id's own may be another
    /// id's with the same hash: the caller compares the ids. Then prunes, with bounded work, ids
    /// recorded before `window`.
    func firstPositions(of ids: EventIDList, window: DuplicateWindow) throws(StoreError) -> [Int]
}

/// Failed keys, the events held back behind a parked key, and keys waiting for an upstream key.
public protocol FailureStore {
    func openFailures(jobs: [String]) throws(StoreError) -> [FailureKey: FailureRecord]
    func saveFailure(_ failure: FailureRecord, mode: JobDefinition.Mode, now: Double) throws(StoreError)
    /// Forgets a failure, its held events and its waits; keys waiting for it say they are redone next.
    func clearFailure(_ key: FailureKey) throws(StoreError)
    /// Keeps events of a parked key for later, in journal order.
    func hold(_ key: FailureKey, events: [HeldEvent]) throws(StoreError)
    func release(_ key: FailureKey, position: Int) throws(StoreError)
    /// The held events of a parked key, oldest first.
    func heldEvents(of key: FailureKey) throws(StoreError) -> [HeldEvent]
}

/// The webhook outbox (SPEC §5): work accumulated per job in the transactions that commit it,
/// turned into notifications in a run's last transaction, delivered after commit.
public protocol NotificationOutbox {
    func accumulate(_ work: JobWork) throws(StoreError)
    /// Turns every job's accumulated work into one outbox row per endpoint; returns how many.
    func emitNotifications(
        runID: Int, now: Double, endpoints: (String) -> [String], disabled: Set<String>, messageID: () -> String,
        body: (Notification) -> [UInt8]
    ) throws(StoreError) -> Int
    /// Adds one notification for one endpoint (a rebuild's, outside any run's accumulated work).
    func enqueue(
        messageID: String, endpoint: String, job: String, runID: Int, body: [UInt8], now: Double, state: OutboxState
    ) throws(StoreError)
    /// Notifications due for an attempt, oldest first.
    func dueDeliveries(now: Double, limit: Int) throws(StoreError) -> [OutboxRow]
    func recordAttempt(_ attempt: DeliveryAttempt) throws(StoreError)
    /// Marks an endpoint disabled (after a 410) and its pending notifications with it.
    func disableEndpoint(_ name: String, reason: String, now: Double) throws(StoreError)
    func disabledEndpoints() throws(StoreError) -> Set<String>
}
