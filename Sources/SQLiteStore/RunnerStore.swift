public import ProjectorCore

/// The runner's own tables (`projector_*`): checkpoints, runs, failures, held events, rejects and
/// the event ids seen (for de-duplication). Every write here happens inside the caller's transaction.
public final class RunnerStore {
    public let db: Database
    private var cache: [String: Statement] = [:]

    public static let schemaVersion = 1

    public init(db: Database) {
        self.db = db
    }

    /// Creates the tables on first use; idempotent.
    public func createSchema() throws(SQLiteError) {
        try db.execute(
            """
            CREATE TABLE IF NOT EXISTS projector_meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
            INSERT OR IGNORE INTO projector_meta(key, value) VALUES('schema_version', \(Self.schemaVersion));
            CREATE TABLE IF NOT EXISTS projector_checkpoints(
                job TEXT PRIMARY KEY,
                position INTEGER NOT NULL,
                anchor_start INTEGER NOT NULL,
                anchor_hash TEXT NOT NULL,
                anchor_segment TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                events_applied INTEGER NOT NULL DEFAULT 0,
                updated_at REAL NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS projector_runs(
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                started_at REAL NOT NULL,
                finished_at REAL,
                from_position INTEGER,
                to_position INTEGER,
                events INTEGER NOT NULL DEFAULT 0,
                rejects INTEGER NOT NULL DEFAULT 0,
                failures INTEGER NOT NULL DEFAULT 0,
                outcome TEXT NOT NULL DEFAULT 'running',
                exit_code INTEGER
            );
            CREATE TABLE IF NOT EXISTS projector_failures(
                job TEXT NOT NULL,
                key TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('retrying', 'parked', 'dead')),
                mode TEXT NOT NULL,
                attempts INTEGER NOT NULL,
                first_position INTEGER NOT NULL,
                last_position INTEGER NOT NULL,
                error TEXT NOT NULL,
                first_failed_at REAL NOT NULL,
                last_failed_at REAL NOT NULL,
                next_attempt_at REAL NOT NULL,
                PRIMARY KEY(job, key)
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS projector_held_events(
                job TEXT NOT NULL,
                key TEXT NOT NULL,
                position INTEGER NOT NULL,
                length INTEGER NOT NULL,
                PRIMARY KEY(job, key, position)
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS projector_rejects(
                position INTEGER NOT NULL,
                job TEXT NOT NULL DEFAULT '',
                length INTEGER NOT NULL,
                code TEXT NOT NULL,
                reason TEXT NOT NULL,
                excerpt BLOB,
                recorded_at REAL NOT NULL,
                run_id INTEGER,
                PRIMARY KEY(position, job)
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS projector_failure_waits(
                job TEXT NOT NULL,
                key TEXT NOT NULL,
                upstream_job TEXT NOT NULL,
                upstream_key TEXT NOT NULL,
                PRIMARY KEY(job, key, upstream_job, upstream_key)
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS projector_event_ids(
                id TEXT PRIMARY KEY,
                position INTEGER NOT NULL
            ) WITHOUT ROWID;
            """
        )
    }

    /// A statement prepared once and reused for the whole run.
    func cached(_ sql: String) throws(SQLiteError) -> Statement {
        if let statement = cache[sql] { return statement }
        let statement = try db.prepare(sql)
        cache[sql] = statement
        return statement
    }

    // MARK: Checkpoints

    public func checkpoints() throws(SQLiteError) -> [String: Checkpoint] {
        var result: [String: Checkpoint] = [:]
        let rows = try db.rows(
            """
            SELECT job, position, anchor_start, anchor_hash, anchor_segment, fingerprint, events_applied, updated_at
            FROM projector_checkpoints
            """
        )
        for row in rows {
            guard let job = row[0].string else { continue }
            let anchor = CursorAnchor(
                position: row[1].int ?? 0, start: row[2].int ?? 0,
                hash: UInt64(row[3].string ?? "0", radix: 16) ?? 0, segment: row[4].string ?? ""
            )
            result[job] = Checkpoint(
                job: job, anchor: anchor, fingerprint: row[5].string ?? "", eventsApplied: row[6].int ?? 0,
                updatedAt: row[7].double ?? 0
            )
        }
        return result
    }

    public func saveCheckpoint(
        job: String, anchor: CursorAnchor, fingerprint: String, eventsAdded: Int, now: Double
    ) throws(SQLiteError) {
        let statement = try cached(
            """
            INSERT INTO projector_checkpoints(job, position, anchor_start, anchor_hash, anchor_segment, fingerprint,
                events_applied, updated_at)
            VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
            ON CONFLICT(job) DO UPDATE SET position = ?2, anchor_start = ?3, anchor_hash = ?4, anchor_segment = ?5,
                fingerprint = ?6, events_applied = events_applied + ?7, updated_at = ?8
            """
        )
        try statement.bind(text: job, at: 1)
        try statement.bind(int: anchor.position, at: 2)
        try statement.bind(int: anchor.start, at: 3)
        try statement.bind(text: Fingerprint.hex(anchor.hash), at: 4)
        try statement.bind(text: anchor.segment, at: 5)
        try statement.bind(text: fingerprint, at: 6)
        try statement.bind(int: eventsAdded, at: 7)
        try statement.bind(.real(now), at: 8)
        try statement.run()
    }

    // MARK: Runs

    public func beginRun(now: Double, from position: Int) throws(SQLiteError) -> Int {
        try db.run(
            "INSERT INTO projector_runs(started_at, from_position) VALUES(?, ?)", [.real(now), SQLValue(position)])
        return Int(db.lastInsertRowID)
    }

    public func finishRun(
        id: Int, now: Double, to position: Int, events: Int, rejects: Int, failures: Int, outcome: String,
        exitCode: Int32?
    ) throws(SQLiteError) {
        try db.run(
            """
            UPDATE projector_runs SET finished_at = ?, to_position = ?, events = ?, rejects = ?, failures = ?,
                outcome = ?, exit_code = ? WHERE id = ?
            """,
            [
                .real(now), SQLValue(position), SQLValue(events), SQLValue(rejects), SQLValue(failures),
                .text(outcome), exitCode.map { SQLValue(Int($0)) } ?? .null, SQLValue(id),
            ]
        )
        // Bounded history: `run --watch` records a run every few seconds, for ever.
        try db.run("DELETE FROM projector_runs WHERE id <= ?", [SQLValue(id - Self.runsKept)])
    }

    /// How many of the latest runs `projector_runs` keeps (their totals live on in the metrics).
    public static let runsKept = 10_000

    // MARK: Rejects

    /// Records a reject once: a line re-read by a lagging or new job keeps its first record.
    /// Returns whether the reject is new (false: it was recorded, and reported, before).
    @discardableResult
    public func recordReject(_ reject: Reject, runID: Int, now: Double) throws(SQLiteError) -> Bool {
        let statement = try cached(
            """
            INSERT OR IGNORE INTO projector_rejects(position, job, length, code, reason, excerpt, recorded_at, run_id)
            VALUES(?, ?, ?, ?, ?, ?, ?, ?)
            """
        )
        try statement.bind(int: reject.position, at: 1)
        try statement.bind(text: reject.job ?? "", at: 2)
        try statement.bind(int: reject.length, at: 3)
        try statement.bind(text: reject.reason.code, at: 4)
        try statement.bind(text: reject.reason.description, at: 5)
        try statement.bind(.blob(reject.excerpt), at: 6)
        try statement.bind(.real(now), at: 7)
        try statement.bind(int: runID, at: 8)
        try statement.run()
        return db.changes == 1
    }

    /// Whether a reject was recorded before (for a dry run, which records nothing).
    public func isRecorded(_ reject: Reject) throws(SQLiteError) -> Bool {
        let statement = try cached("SELECT 1 FROM projector_rejects WHERE position = ? AND job = ?")
        try statement.bind(int: reject.position, at: 1)
        try statement.bind(text: reject.job ?? "", at: 2)
        var found = false
        while try statement.step() { found = true }
        return found
    }

    // MARK: Event ids

    /// The earliest position at which `id` was seen, recording `position` when it is the first.
    ///
    /// `INSERT OR IGNORE` then, only on a conflict, a lookup: one statement in the common case,
    /// and no `RETURNING` (which builds a temporary table per execution).
    public func firstPosition(ofEventID id: UnsafeRawBufferPointer, position: Int) throws(SQLiteError) -> Int {
        try firstPosition(position) { (statement) throws(SQLiteError) in try statement.bind(borrowedText: id, at: 1) }
    }

    public func firstPosition(ofEventID id: String, position: Int) throws(SQLiteError) -> Int {
        try firstPosition(position) { (statement) throws(SQLiteError) in try statement.bind(text: id, at: 1) }
    }

    private func firstPosition(
        _ position: Int, bindID: (Statement) throws(SQLiteError) -> Void
    ) throws(SQLiteError) -> Int {
        let insert = try cached("INSERT OR IGNORE INTO projector_event_ids(id, position) VALUES(?, ?)")
        try bindID(insert)
        try insert.bind(int: position, at: 2)
        try insert.run()
        if db.changes == 1 { return position }
        let select = try cached("SELECT position FROM projector_event_ids WHERE id = ?")
        try bindID(select)
        var first = position
        while try select.step() { first = min(first, select.int(at: 0)) }
        return first
    }

    // MARK: Failures

    public func openFailures(jobs: [String]) throws(SQLiteError) -> [FailureKey: FailureRecord] {
        var result: [FailureKey: FailureRecord] = [:]
        for row in try db.rows(
            """
            SELECT job, key, state, mode, attempts, first_position, last_position, error, next_attempt_at
            FROM projector_failures
            """
        ) {
            guard let job = row[0].string, jobs.contains(job), let key = row[1].string else { continue }
            let record = FailureRecord(
                job: job, key: key, state: FailureState(rawValue: row[2].string ?? "") ?? .dead,
                attempts: row[4].int ?? 0, firstPosition: row[5].int ?? 0, lastPosition: row[6].int ?? 0,
                error: row[7].string ?? "", nextAttemptAt: row[8].double ?? 0
            )
            result[FailureKey(job: job, key: key)] = record
        }
        for row in try db.rows("SELECT job, key, upstream_job, upstream_key FROM projector_failure_waits") {
            guard let job = row[0].string, let key = row[1].string, let upstreamJob = row[2].string,
                let upstreamKey = row[3].string
            else { continue }
            result[FailureKey(job: job, key: key)]?.waitsFor.insert(FailureKey(job: upstreamJob, key: upstreamKey))
        }
        return result
    }

    public func saveFailure(_ failure: FailureRecord, mode: JobDefinition.Mode, now: Double) throws(SQLiteError) {
        let statement = try cached(
            """
            INSERT INTO projector_failures(job, key, state, mode, attempts, first_position, last_position, error,
                first_failed_at, last_failed_at, next_attempt_at)
            VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)
            ON CONFLICT(job, key) DO UPDATE SET state = ?3, attempts = ?5, first_position = ?6,
                last_position = ?7, error = ?8, last_failed_at = ?9, next_attempt_at = ?10
            """
        )
        try statement.bind(text: failure.job, at: 1)
        try statement.bind(text: failure.key, at: 2)
        try statement.bind(text: failure.state.rawValue, at: 3)
        try statement.bind(text: mode.rawValue, at: 4)
        try statement.bind(int: failure.attempts, at: 5)
        try statement.bind(int: failure.firstPosition, at: 6)
        try statement.bind(int: failure.lastPosition, at: 7)
        try statement.bind(text: failure.error, at: 8)
        try statement.bind(.real(now), at: 9)
        try statement.bind(.real(failure.nextAttemptAt), at: 10)
        try statement.run()
        let clearWaits = try cached("DELETE FROM projector_failure_waits WHERE job = ? AND key = ?")
        try clearWaits.bind(text: failure.job, at: 1)
        try clearWaits.bind(text: failure.key, at: 2)
        try clearWaits.run()
        for upstream in failure.waitsFor {
            let wait = try cached(
                """
                INSERT OR IGNORE INTO projector_failure_waits(job, key, upstream_job, upstream_key)
                VALUES(?, ?, ?, ?)
                """
            )
            try wait.bind(text: failure.job, at: 1)
            try wait.bind(text: failure.key, at: 2)
            try wait.bind(text: upstream.job, at: 3)
            try wait.bind(text: upstream.key, at: 4)
            try wait.run()
        }
    }

    public func clearFailure(job: String, key: String) throws(SQLiteError) {
        let statement = try cached("DELETE FROM projector_failures WHERE job = ? AND key = ?")
        try statement.bind(text: job, at: 1)
        try statement.bind(text: key, at: 2)
        try statement.run()
        let held = try cached("DELETE FROM projector_held_events WHERE job = ? AND key = ?")
        try held.bind(text: job, at: 1)
        try held.bind(text: key, at: 2)
        try held.run()
        let waits = try cached("DELETE FROM projector_failure_waits WHERE job = ? AND key = ?")
        try waits.bind(text: job, at: 1)
        try waits.bind(text: key, at: 2)
        try waits.run()
        // Keys that only waited for this one say so until a run redoes them.
        let dependents = try cached(
            """
            UPDATE projector_failures SET error = 'upstream ' || ?1 || ' key ' || ?2
                || ' no longer fails; the next run redoes this key'
            WHERE attempts = 0 AND (job, key) IN (
                SELECT job, key FROM projector_failure_waits WHERE upstream_job = ?1 AND upstream_key = ?2)
            """
        )
        try dependents.bind(text: job, at: 1)
        try dependents.bind(text: key, at: 2)
        try dependents.run()
    }

    /// Keeps an event of a parked key for later, in journal order.
    public func hold(job: String, key: String, position: Int, length: Int) throws(SQLiteError) {
        let statement = try cached(
            "INSERT OR IGNORE INTO projector_held_events(job, key, position, length) VALUES(?, ?, ?, ?)"
        )
        try statement.bind(text: job, at: 1)
        try statement.bind(text: key, at: 2)
        try statement.bind(int: position, at: 3)
        try statement.bind(int: length, at: 4)
        try statement.run()
    }

    public func release(job: String, key: String, position: Int) throws(SQLiteError) {
        let statement = try cached("DELETE FROM projector_held_events WHERE job = ? AND key = ? AND position = ?")
        try statement.bind(text: job, at: 1)
        try statement.bind(text: key, at: 2)
        try statement.bind(int: position, at: 3)
        try statement.run()
    }

    /// The held events of a parked key, oldest first.
    public func heldEvents(job: String, key: String) throws(SQLiteError) -> [(position: Int, length: Int)] {
        try db.rows(
            "SELECT position, length FROM projector_held_events WHERE job = ? AND key = ? ORDER BY position",
            [.text(job), .text(key)]
        ).map { ($0[0].int ?? 0, $0[1].int ?? 0) }
    }
}

/// A job's committed progress.
public struct Checkpoint: Sendable, Equatable {
    public var job: String
    public var anchor: CursorAnchor
    public var fingerprint: String
    public var eventsApplied: Int
    public var updatedAt: Double

    public var position: Int { anchor.position }
}

/// A line (or, with `job`, one job's view of an event) that was not accepted.
public struct Reject: Sendable, Equatable {
    public var position: Int
    public var length: Int
    public var reason: RejectReason
    public var excerpt: [UInt8]
    public var job: String?

    public init(position: Int, length: Int, reason: RejectReason, excerpt: [UInt8], job: String? = nil) {
        self.position = position
        self.length = length
        self.reason = reason
        self.excerpt = excerpt
        self.job = job
    }
}

public struct FailureKey: Hashable, Sendable {
    public var job: String
    public var key: String

    public init(job: String, key: String) {
        self.job = job
        self.key = key
    }
}

public enum FailureState: String, Sendable {
    /// A refresh key that failed and will be tried again after its backoff.
    case retrying
    /// An apply-job key whose failed event and every later one are held back, in order.
    case parked
    /// Out of attempts: waits for an operator to retry or discard it.
    case dead
}

public struct FailureRecord: Sendable, Equatable {
    public var job: String
    public var key: String
    public var state: FailureState
    public var attempts: Int
    public var firstPosition: Int
    public var lastPosition: Int
    public var error: String
    public var nextAttemptAt: Double
    /// Upstream failures (of jobs this one runs `after:`) whose events produced this key: the key
    /// is held back until each of them is cleared, then redone from the upstream's fixed rows.
    public var waitsFor: Set<FailureKey> = []

    public init(
        job: String, key: String, state: FailureState, attempts: Int, firstPosition: Int, lastPosition: Int,
        error: String, nextAttemptAt: Double
    ) {
        self.job = job
        self.key = key
        self.state = state
        self.attempts = attempts
        self.firstPosition = firstPosition
        self.lastPosition = lastPosition
        self.error = error
        self.nextAttemptAt = nextAttemptAt
    }
}
