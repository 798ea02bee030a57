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
            CREATE TABLE IF NOT EXISTS projector_event_window(
                hash INTEGER PRIMARY KEY,
                position INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS projector_event_window_marks(
                position INTEGER PRIMARY KEY,
                occurred_at REAL,
                recorded INTEGER NOT NULL
            );
            """
        )
        try upgradeEventIDs()
    }

    /// Replaces the de-duplication table of earlier versions (every id as text, for ever) in the
    /// transaction that creates the new one: its latest `DuplicateWindow.default.events` ids (by
    /// position) are carried over as hashes, under one mark without an `occurredAt`, so a
    /// duplicate appended just after the upgrade of an event appended just before it is still
    /// found; the rest is dropped with the old table.
    func upgradeEventIDs() throws(SQLiteError) {
        guard !(try db.rows("SELECT 1 FROM sqlite_master WHERE name = 'projector_event_ids'").isEmpty) else { return }
        let rows = try db.rows(
            "SELECT id, position FROM projector_event_ids ORDER BY position DESC LIMIT ?",
            [SQLValue(DuplicateWindow.default.events)])
        let insert = try db.prepare("INSERT OR IGNORE INTO projector_event_window(hash, position) VALUES(?, ?)")
        var last = -1
        for row in rows.reversed() {
            guard case .text(let id) = row[0], let position = row[1].int else { continue }
            try insert.bind(.integer(Int64(bitPattern: Fingerprint.fnv1a(id))), at: 1)
            try insert.bind(int: position, at: 2)
            try insert.run()
            last = max(last, position)
        }
        if last >= 0 {
            try db.run(
                "INSERT OR IGNORE INTO projector_event_window_marks(position, occurred_at, recorded) VALUES(?, NULL, ?)",
                [SQLValue(last + 1), SQLValue(rows.count)])
        }
        try db.execute("DROP TABLE projector_event_ids")
    }
}
