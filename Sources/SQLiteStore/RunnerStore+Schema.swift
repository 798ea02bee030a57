import ProjectorCore

/// The runner's tables, created on first use (`CREATE TABLE IF NOT EXISTS`): a table added later
/// is created by the next run.
extension RunnerStore {
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
            CREATE TABLE IF NOT EXISTS projector_event_window_chunks(
                chunk INTEGER PRIMARY KEY,
                first_position INTEGER NOT NULL,
                last_position INTEGER NOT NULL,
                ids INTEGER NOT NULL,
                recorded INTEGER NOT NULL,
                occurred_from REAL,
                occurred_at REAL,
                pairs BLOB NOT NULL
            );
            """
        )
        try upgradeEventIDs()
    }
}
