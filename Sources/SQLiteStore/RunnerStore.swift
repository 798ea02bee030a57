public import ProjectorCore

/// The SQLite implementation of the runner's store (`ProjectionStore`): the runner's own tables
/// (`projector_*`: checkpoints, runs, failures, held events, rejects, the event ids seen, the
/// webhook outbox) next to the jobs' read models in one database file. Every write here happens
/// inside the caller's transaction. SQLite's errors become `StoreError`s at this boundary.
public final class RunnerStore: OperatorStore {
    public let db: Database
    private var cache: [String: Statement] = [:]

    public static let schemaVersion = 1

    public init(db: Database) {
        self.db = db
    }

    /// Creates the tables on first use; idempotent.
    public func createSchema() throws(StoreError) {
        try sqlite { () throws(SQLiteError) in
            try createRunnerTables()
            try createOutboxSchema()
        }
    }

    func createRunnerTables() throws(SQLiteError) {
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

    /// Runs SQLite calls, reporting their failure as the store's.
    @inline(__always)
    func sqlite<T>(_ body: () throws(SQLiteError) -> T) throws(StoreError) -> T {
        do throws(SQLiteError) {
            return try body()
        } catch {
            throw error.storeError
        }
    }

    // MARK: Transactions

    public func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try sqlite { () throws(SQLiteError) in try db.execute("BEGIN IMMEDIATE") }
        do throws(StoreError) {
            let value = try body()
            try sqlite { () throws(SQLiteError) in try db.execute("COMMIT") }
            return value
        } catch {
            if db.isInTransaction { try? db.execute("ROLLBACK") }
            throw error
        }
    }

    public func savepoint<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try sqlite { () throws(SQLiteError) in try db.execute("SAVEPOINT projector_key") }
        do throws(StoreError) {
            let value = try body()
            try sqlite { () throws(SQLiteError) in try db.execute("RELEASE projector_key") }
            return value
        } catch {
            try sqlite { () throws(SQLiteError) in try db.execute("ROLLBACK TO projector_key; RELEASE projector_key") }
            throw error
        }
    }

    public func rolledBack<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try sqlite { () throws(SQLiteError) in try db.execute("BEGIN IMMEDIATE") }
        defer { if db.isInTransaction { try? db.execute("ROLLBACK") } }
        return try body()
    }

    // MARK: Jobs

    public func setUp(_ job: JobDefinition) throws(JobFileErrors) {
        try CompiledJob.setup(job, db: db)
    }

    public func compile(_ job: JobDefinition) throws(JobFileErrors) -> any CompiledJobStatements {
        try CompiledJob(job, db: db)
    }

    public func clearTables(of job: JobDefinition) throws(StoreError) {
        try sqlite { () throws(SQLiteError) in
            for table in CompiledJob.tablesCreated(by: job) {
                try db.execute("DELETE FROM main.\(Self.quote(table))")
            }
        }
    }

    public func setupDrift(of job: JobDefinition) -> [SetupDriftFinding] {
        SetupDrift.findings(for: job, in: db)
    }

    /// `name` as a quoted SQL identifier.
    public static func quote(_ name: String) -> String {
        var quoted = "\""
        for character in name {
            if character == "\"" { quoted.append("\"") }
            quoted.append(character)
        }
        return quoted + "\""
    }

    // MARK: Checkpoints

    public func checkpoints() throws(StoreError) -> [String: Checkpoint] {
        var result: [String: Checkpoint] = [:]
        let rows = try sqlite { () throws(SQLiteError) in
            try db.rows(
                """
                SELECT job, position, anchor_start, anchor_hash, anchor_segment, fingerprint, events_applied, updated_at
                FROM projector_checkpoints
                """
            )
        }
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
    ) throws(StoreError) {
        try sqlite { () throws(SQLiteError) in
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
    }

    // MARK: Runs

    public func beginRun(now: Double, from position: Int) throws(StoreError) -> Int {
        try sqlite { () throws(SQLiteError) in
            try db.run(
                "INSERT INTO projector_runs(started_at, from_position) VALUES(?, ?)", [.real(now), SQLValue(position)])
            return Int(db.lastInsertRowID)
        }
    }

    public func finishRun(_ run: FinishedRun) throws(StoreError) {
        try sqlite { () throws(SQLiteError) in
            try db.run(
                """
                UPDATE projector_runs SET finished_at = ?, to_position = ?, events = ?, rejects = ?, failures = ?,
                    outcome = ?, exit_code = ? WHERE id = ?
                """,
                [
                    .real(run.finishedAt), SQLValue(run.toPosition), SQLValue(run.events), SQLValue(run.rejects),
                    SQLValue(run.failures), .text(run.outcome), run.exitCode.map { SQLValue(Int($0)) } ?? .null,
                    SQLValue(run.id),
                ]
            )
            // Bounded history: `run --watch` records a run every few seconds, for ever.
            try db.run("DELETE FROM projector_runs WHERE id <= ?", [SQLValue(run.id - Self.runsKept)])
        }
    }

    /// How many of the latest runs `projector_runs` keeps (their totals live on in the metrics).
    public static let runsKept = 10_000

    // MARK: Rejects

    /// Records each reject once: a line re-read by a lagging or new job keeps its first record.
    public func recordRejects(_ rejects: [Reject], runID: Int, now: Double) throws(StoreError) -> [Bool] {
        guard !rejects.isEmpty else { return [] }
        return try sqlite { () throws(SQLiteError) in
            let statement = try cached(
                """
                INSERT OR IGNORE INTO projector_rejects(position, job, length, code, reason, excerpt, recorded_at,
                    run_id)
                VALUES(?, ?, ?, ?, ?, ?, ?, ?)
                """
            )
            var new: [Bool] = []
            new.reserveCapacity(rejects.count)
            for reject in rejects {
                try statement.bind(int: reject.position, at: 1)
                try statement.bind(text: reject.job ?? "", at: 2)
                try statement.bind(int: reject.length, at: 3)
                try statement.bind(text: reject.reason.code, at: 4)
                try statement.bind(text: reject.reason.description, at: 5)
                try statement.bind(.blob(reject.excerpt), at: 6)
                try statement.bind(.real(now), at: 7)
                try statement.bind(int: runID, at: 8)
                try statement.run()
                new.append(db.changes == 1)
            }
            return new
        }
    }

    public func isRecorded(_ reject: Reject) throws(StoreError) -> Bool {
        try sqlite { () throws(SQLiteError) in
            let statement = try cached("SELECT 1 FROM projector_rejects WHERE position = ? AND job = ?")
            try statement.bind(int: reject.position, at: 1)
            try statement.bind(text: reject.job ?? "", at: 2)
            var found = false
            while try statement.step() { found = true }
            return found
        }
    }

    // MARK: Event ids

    /// For each id, the earliest position at which it was seen, recording its position when it is the first.
    ///
    /// `INSERT OR IGNORE` then, only on a conflict, a lookup: one statement in the common case,
    /// and no `RETURNING` (which builds a temporary table per execution).
    public func firstPositions(of ids: EventIDList) throws(StoreError) -> [Int] {
        guard !ids.isEmpty else { return [] }
        return try sqlite { () throws(SQLiteError) in
            let insert = try cached("INSERT OR IGNORE INTO projector_event_ids(id, position) VALUES(?, ?)")
            let select = try cached("SELECT position FROM projector_event_ids WHERE id = ?")
            var result: [Int] = []
            result.reserveCapacity(ids.count)
            let failure: SQLiteError? = ids.bytes.withUnsafeBytes { buffer in
                do throws(SQLiteError) {
                    for index in 0..<ids.count {
                        let id = UnsafeRawBufferPointer(rebasing: buffer[ids.range(index)])
                        let position = ids.positions[index]
                        try insert.bind(borrowedText: id, at: 1)
                        try insert.bind(int: position, at: 2)
                        try insert.run()
                        if db.changes == 1 {
                            result.append(position)
                            continue
                        }
                        try select.bind(borrowedText: id, at: 1)
                        var first = position
                        while try select.step() { first = min(first, select.int(at: 0)) }
                        result.append(first)
                    }
                    return nil
                } catch {
                    return error
                }
            }
            if let failure { throw failure }
            return result
        }
    }

    // MARK: Failures

    public func openFailures(jobs: [String]) throws(StoreError) -> [FailureKey: FailureRecord] {
        var result: [FailureKey: FailureRecord] = [:]
        let (failures, waits) = try sqlite { () throws(SQLiteError) in
            (
                try db.rows(
                    """
                    SELECT job, key, state, mode, attempts, first_position, last_position, error, next_attempt_at
                    FROM projector_failures
                    """
                ),
                try db.rows("SELECT job, key, upstream_job, upstream_key FROM projector_failure_waits")
            )
        }
        for row in failures {
            guard let job = row[0].string, jobs.contains(job), let key = row[1].string else { continue }
            let record = FailureRecord(
                job: job, key: key, state: FailureState(rawValue: row[2].string ?? "") ?? .dead,
                attempts: row[4].int ?? 0, firstPosition: row[5].int ?? 0, lastPosition: row[6].int ?? 0,
                error: row[7].string ?? "", nextAttemptAt: row[8].double ?? 0
            )
            result[FailureKey(job: job, key: key)] = record
        }
        for row in waits {
            guard let job = row[0].string, let key = row[1].string, let upstreamJob = row[2].string,
                let upstreamKey = row[3].string
            else { continue }
            result[FailureKey(job: job, key: key)]?.waitsFor.insert(FailureKey(job: upstreamJob, key: upstreamKey))
        }
        return result
    }

    public func saveFailure(_ failure: FailureRecord, mode: JobDefinition.Mode, now: Double) throws(StoreError) {
        try sqlite { () throws(SQLiteError) in
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
            try run("DELETE FROM projector_failure_waits WHERE job = ? AND key = ?", failure.job, failure.key)
            for upstream in failure.waitsFor {
                try run(
                    """
                    INSERT OR IGNORE INTO projector_failure_waits(job, key, upstream_job, upstream_key)
                    VALUES(?, ?, ?, ?)
                    """, failure.job, failure.key, upstream.job, upstream.key)
            }
        }
    }

    public func clearFailure(_ failure: FailureKey) throws(StoreError) {
        try sqlite { () throws(SQLiteError) in
            try run("DELETE FROM projector_failures WHERE job = ? AND key = ?", failure.job, failure.key)
            try run("DELETE FROM projector_held_events WHERE job = ? AND key = ?", failure.job, failure.key)
            try run("DELETE FROM projector_failure_waits WHERE job = ? AND key = ?", failure.job, failure.key)
            // Keys that only waited for this one say so until a run redoes them.
            try run(
                """
                UPDATE projector_failures SET error = 'upstream ' || ?1 || ' key ' || ?2
                    || ' no longer fails; the next run redoes this key'
                WHERE attempts = 0 AND (job, key) IN (
                    SELECT job, key FROM projector_failure_waits WHERE upstream_job = ?1 AND upstream_key = ?2)
                """, failure.job, failure.key)
        }
    }

    public func hold(_ key: FailureKey, events: [HeldEvent]) throws(StoreError) {
        try sqlite { () throws(SQLiteError) in
            let statement = try cached(
                "INSERT OR IGNORE INTO projector_held_events(job, key, position, length) VALUES(?, ?, ?, ?)"
            )
            for event in events {
                try statement.bind(text: key.job, at: 1)
                try statement.bind(text: key.key, at: 2)
                try statement.bind(int: event.position, at: 3)
                try statement.bind(int: event.length, at: 4)
                try statement.run()
            }
        }
    }

    public func release(_ key: FailureKey, position: Int) throws(StoreError) {
        try sqlite { () throws(SQLiteError) in
            let statement = try cached(
                "DELETE FROM projector_held_events WHERE job = ? AND key = ? AND position = ?")
            try statement.bind(text: key.job, at: 1)
            try statement.bind(text: key.key, at: 2)
            try statement.bind(int: position, at: 3)
            try statement.run()
        }
    }

    public func heldEvents(of key: FailureKey) throws(StoreError) -> [HeldEvent] {
        try sqlite { () throws(SQLiteError) in
            try db.rows(
                "SELECT position, length FROM projector_held_events WHERE job = ? AND key = ? ORDER BY position",
                [.text(key.job), .text(key.key)]
            ).map { HeldEvent(position: $0[0].int ?? 0, length: $0[1].int ?? 0) }
        }
    }

    /// Runs a cached statement with text arguments.
    func run(_ sql: String, _ arguments: String...) throws(SQLiteError) {
        let statement = try cached(sql)
        for (index, argument) in arguments.enumerated() { try statement.bind(text: argument, at: Int32(index + 1)) }
        try statement.run()
    }
}
