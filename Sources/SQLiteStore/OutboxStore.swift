public import ProjectorCore

/// The webhook outbox (SPEC §5): notifications are accumulated per job in the transactions that
/// commit the work they report, turned into outbox rows in the run's last transaction, and
/// delivered after commit.
extension RunnerStore {
    func createOutboxSchema() throws(SQLiteError) {
        try db.execute(
            """
            CREATE TABLE IF NOT EXISTS projector_webhook_outbox(
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                message_id TEXT NOT NULL,
                endpoint TEXT NOT NULL,
                job TEXT NOT NULL,
                run_id INTEGER,
                body BLOB NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead', 'disabled')),
                attempts INTEGER NOT NULL DEFAULT 0,
                created_at REAL NOT NULL,
                next_attempt_at REAL NOT NULL,
                last_attempt_at REAL,
                last_status INTEGER,
                last_error TEXT,
                delivered_at REAL
            );
            CREATE INDEX IF NOT EXISTS projector_webhook_outbox_due
                ON projector_webhook_outbox(state, next_attempt_at);
            CREATE INDEX IF NOT EXISTS projector_webhook_outbox_delivered
                ON projector_webhook_outbox(delivered_at) WHERE state = 'delivered';
            CREATE TABLE IF NOT EXISTS projector_webhook_endpoints(
                name TEXT PRIMARY KEY,
                disabled_at REAL,
                reason TEXT
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS projector_notification_state(
                job TEXT PRIMARY KEY,
                from_position INTEGER NOT NULL,
                to_position INTEGER NOT NULL,
                events INTEGER NOT NULL,
                keys_total INTEGER NOT NULL,
                failures INTEGER NOT NULL,
                truncated INTEGER NOT NULL DEFAULT 0
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS projector_notification_keys(
                seq INTEGER PRIMARY KEY,
                job TEXT NOT NULL,
                key TEXT NOT NULL,
                UNIQUE(job, key)
            );
            """
        )
    }

    /// Adds one batch's work for a job to its notification in the making: the positions it covers,
    /// the events it matched, the keys it refreshed or applied and its failures. Every key is kept
    /// (once), so `keysTotal` counts distinct keys however many batches touched them; the body
    /// lists the first `Notification.keysCap`.
    public func accumulate(_ work: JobWork) throws(StoreError) {
        try sqlite { () throws(SQLiteError) in try add(work) }
    }

    private func add(_ work: JobWork) throws(SQLiteError) {
        let state = try cached(
            """
            INSERT INTO projector_notification_state(job, from_position, to_position, events, keys_total, failures)
            VALUES(?1, ?2, ?3, ?4, 0, ?5)
            ON CONFLICT(job) DO UPDATE SET to_position = ?3, events = events + ?4, failures = failures + ?5
            """
        )
        try state.bind(text: work.job, at: 1)
        try state.bind(int: work.from, at: 2)
        try state.bind(int: work.to, at: 3)
        try state.bind(int: work.events, at: 4)
        try state.bind(int: work.failures, at: 5)
        try state.run()
        guard !work.keys.isEmpty else { return }
        let insert = try cached("INSERT OR IGNORE INTO projector_notification_keys(job, key) VALUES(?, ?)")
        var added = 0
        for key in work.keys {
            try insert.bind(text: work.job, at: 1)
            try insert.bind(text: key, at: 2)
            try insert.run()
            added += db.changes
        }
        let total = try cached("UPDATE projector_notification_state SET keys_total = keys_total + ? WHERE job = ?")
        try total.bind(int: added, at: 1)
        try total.bind(text: work.job, at: 2)
        try total.run()
    }

    /// Turns every accumulated notification of a job that did work (keys refreshed or applied, or
    /// failures) into outbox rows (one per endpoint) and clears it. A job that only read events
    /// keeps its accumulated range, so its next notification covers it. `endpoints(job)` names the
    /// endpoints of a job; `messageID()` makes an id and `body` serializes a notification (once: every
    /// endpoint's row stores the same bytes).
    public func emitNotifications(
        runID: Int, now: Double, endpoints: (String) -> [String], disabled: Set<String>, messageID: () -> String,
        body: (Notification) -> [UInt8]
    ) throws(StoreError) -> Int {
        try sqlite { () throws(SQLiteError) in
            try emit(runID: runID, now: now, endpoints: endpoints, disabled: disabled, messageID: messageID, body: body)
        }
    }

    private func emit(
        runID: Int, now: Double, endpoints: (String) -> [String], disabled: Set<String>, messageID: () -> String,
        body: (Notification) -> [UInt8]
    ) throws(SQLiteError) -> Int {
        let rows = try db.rows(
            """
            SELECT job, from_position, to_position, events, keys_total, failures
            FROM projector_notification_state WHERE keys_total > 0 OR failures > 0
            """
        )
        var written = 0
        for row in rows {
            guard let job = row[0].string else { continue }
            let keys = try db.rows(
                "SELECT key FROM projector_notification_keys WHERE job = ? ORDER BY seq LIMIT ?",
                [.text(job), SQLValue(Notification.keysCap)]
            ).compactMap { $0[0].string }
            let total = max(row[4].int ?? 0, keys.count)
            let notification = Notification(
                job: job, runID: runID, fromPosition: row[1].int ?? 0, toPosition: row[2].int ?? 0,
                events: row[3].int ?? 0, keys: keys, keysTotal: total, failures: row[5].int ?? 0,
                truncated: total > keys.count, timestamp: now
            )
            let id = messageID()
            let bytes = body(notification)
            for endpoint in endpoints(job) {
                try insertOutboxRow(
                    messageID: id, endpoint: endpoint, job: job, runID: runID, body: bytes, now: now,
                    state: disabled.contains(endpoint) ? .disabled : .pending
                )
                written += 1
            }
            try db.run("DELETE FROM projector_notification_state WHERE job = ?", [.text(job)])
            try db.run("DELETE FROM projector_notification_keys WHERE job = ?", [.text(job)])
        }
        return written
    }

    public func enqueue(
        messageID: String, endpoint: String, job: String, runID: Int, body: [UInt8], now: Double,
        state: OutboxState = .pending
    ) throws(StoreError) {
        try sqlite { () throws(SQLiteError) in
            try insertOutboxRow(
                messageID: messageID, endpoint: endpoint, job: job, runID: runID, body: body, now: now, state: state)
        }
    }

    private func insertOutboxRow(
        messageID: String, endpoint: String, job: String, runID: Int, body: [UInt8], now: Double,
        state: OutboxState
    ) throws(SQLiteError) {
        try db.run(
            """
            INSERT INTO projector_webhook_outbox(message_id, endpoint, job, run_id, body, state, created_at,
                next_attempt_at)
            VALUES(?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(messageID), .text(endpoint), .text(job), SQLValue(runID), .blob(body), .text(state.rawValue),
                .real(now),
                .real(now),
            ]
        )
    }

    /// Notifications due for an attempt, oldest first.
    public func dueDeliveries(now: Double, limit: Int) throws(StoreError) -> [OutboxRow] {
        try sqlite { () throws(SQLiteError) in
            try outboxRows(
                "WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?", [.real(now), SQLValue(limit)])
        }
    }

    /// The rows a `WHERE … ORDER BY … LIMIT …` tail selects.
    func outboxRows(_ filter: String, _ arguments: [SQLValue] = []) throws(SQLiteError) -> [OutboxRow] {
        try db.rows(
            """
            SELECT id, message_id, endpoint, job, run_id, body, state, attempts, created_at, next_attempt_at,
                last_status, last_error, delivered_at
            FROM projector_webhook_outbox \(filter)
            """, arguments
        ).map { row in
            var body: [UInt8] = []
            if case .blob(let bytes) = row[5] {
                body = bytes
            } else if let text = row[5].string {
                body = Array(text.utf8)
            }
            return OutboxRow(
                id: row[0].int ?? 0, messageID: row[1].string ?? "", endpoint: row[2].string ?? "",
                job: row[3].string ?? "", runID: row[4].int, body: body,
                state: OutboxState(rawValue: row[6].string ?? "") ?? .pending,
                attempts: row[7].int ?? 0, createdAt: row[8].double ?? 0, nextAttemptAt: row[9].double ?? 0,
                lastStatus: row[10].int, lastError: row[11].string, deliveredAt: row[12].double
            )
        }
    }

    /// Records the outcome of one attempt.
    public func recordAttempt(_ attempt: DeliveryAttempt) throws(StoreError) {
        try sqlite { () throws(SQLiteError) in
            try db.run(
                """
                UPDATE projector_webhook_outbox SET state = ?, attempts = ?, last_attempt_at = ?, next_attempt_at = ?,
                    last_status = ?, last_error = ?,
                    delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END
                WHERE id = ?
                """,
                [
                    .text(attempt.state.rawValue), SQLValue(attempt.attempts), .real(attempt.at),
                    .real(attempt.nextAttemptAt), attempt.status.map { SQLValue($0) } ?? .null, SQLValue(attempt.error),
                    .text(attempt.state.rawValue), .real(attempt.at), SQLValue(attempt.id),
                ]
            )
        }
    }

    /// Marks an endpoint disabled (after a 410) and parks its pending notifications as disabled.
    public func disableEndpoint(_ name: String, reason: String, now: Double) throws(StoreError) {
        try sqlite { () throws(SQLiteError) in try disable(name, reason: reason, now: now) }
    }

    private func disable(_ name: String, reason: String, now: Double) throws(SQLiteError) {
        try db.run(
            """
            INSERT INTO projector_webhook_endpoints(name, disabled_at, reason) VALUES(?1, ?2, ?3)
            ON CONFLICT(name) DO UPDATE SET disabled_at = ?2, reason = ?3
            """, [.text(name), .real(now), .text(reason)]
        )
        try db.run(
            "UPDATE projector_webhook_outbox SET state = 'disabled' WHERE endpoint = ? AND state = 'pending'",
            [.text(name)])
    }

    public func disabledEndpoints() throws(StoreError) -> Set<String> {
        let rows = try sqlite { () throws(SQLiteError) in
            try db.rows("SELECT name FROM projector_webhook_endpoints WHERE disabled_at IS NOT NULL")
        }
        return Set(rows.compactMap { $0[0].string })
    }

    /// Notifications per state.
    func outboxCounts() throws(StoreError) -> [OutboxState: Int] {
        let rows = try sqlite { () throws(SQLiteError) in
            try db.rows("SELECT state, count(*) FROM projector_webhook_outbox GROUP BY state")
        }
        var counts: [OutboxState: Int] = [:]
        for row in rows {
            guard let state = row[0].string.flatMap(OutboxState.init(rawValue:)) else { continue }
            counts[state] = row[1].int ?? 0
        }
        return counts
    }
}
