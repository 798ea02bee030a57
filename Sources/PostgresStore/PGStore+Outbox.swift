import PostgresClient
public import ProjectorCore

/// The webhook outbox (SPEC §5): notifications accumulated per job in the transactions that
/// commit the work they report, turned into outbox rows in the run's last transaction, delivered
/// after commit.
extension PGStore {
    public func accumulate(_ work: JobWork) throws(StoreError) {
        try run(
            """
            INSERT INTO \(table("notification_state"))(job, from_position, to_position, events, keys_total, failures)
            VALUES($1, $2, $3, $4, 0, $5)
            ON CONFLICT (job) DO UPDATE SET to_position = $3,
                events = \(table("notification_state")).events + $4,
                failures = \(table("notification_state")).failures + $5
            """,
            [work.job, work.from.parameter, work.to.parameter, work.events.parameter, work.failures.parameter])
        guard !work.keys.isEmpty else { return }
        var added = 0
        for key in work.keys {
            let result = try run(
                "INSERT INTO \(table("notification_keys"))(job, key) VALUES($1, $2) ON CONFLICT DO NOTHING",
                [work.job, key])
            added += result.affectedRows ?? 0
        }
        try run(
            "UPDATE \(table("notification_state")) SET keys_total = keys_total + $1 WHERE job = $2",
            [added.parameter, work.job])
    }

    public func emitNotifications(
        runID: Int, now: Double, endpoints: (String) -> [String], disabled: Set<String>, messageID: () -> String,
        body: (Notification) -> [UInt8]
    ) throws(StoreError) -> Int {
        let rows = try run(
            """
            SELECT job, from_position, to_position, events, keys_total, failures
            FROM \(table("notification_state")) WHERE keys_total > 0 OR failures > 0 ORDER BY job
            """)
        var written = 0
        for row in rows {
            guard let job = row.string(0) else { continue }
            let keys = try run(
                "SELECT key FROM \(table("notification_keys")) WHERE job = $1 ORDER BY seq LIMIT $2",
                [job, Notification.keysCap.parameter]
            ).compactMap { $0.string(0) }
            let total = max(row.int(4) ?? 0, keys.count)
            let notification = Notification(
                job: job, runID: runID, fromPosition: row.int(1) ?? 0, toPosition: row.int(2) ?? 0,
                events: row.int(3) ?? 0, keys: keys, keysTotal: total, failures: row.int(5) ?? 0,
                truncated: total > keys.count, timestamp: now)
            let id = messageID()
            let bytes = body(notification)
            for endpoint in endpoints(job) {
                try enqueue(
                    messageID: id, endpoint: endpoint, job: job, runID: runID, body: bytes, now: now,
                    state: disabled.contains(endpoint) ? .disabled : .pending)
                written += 1
            }
            try run("DELETE FROM \(table("notification_state")) WHERE job = $1", [job])
            try run("DELETE FROM \(table("notification_keys")) WHERE job = $1", [job])
        }
        return written
    }

    public func enqueue(
        messageID: String, endpoint: String, job: String, runID: Int, body: [UInt8], now: Double,
        state: OutboxState
    ) throws(StoreError) {
        try run(
            """
            INSERT INTO \(table("webhook_outbox"))(message_id, endpoint, job, run_id, body, state, created_at,
                next_attempt_at)
            VALUES($1, $2, $3, $4, $5, $6, $7, $7)
            """, [messageID, endpoint, job, runID.parameter, PGBytea.text(body), state.rawValue, now.parameter])
    }

    public func dueDeliveries(now: Double, limit: Int) throws(StoreError) -> [OutboxRow] {
        guard claimsDeliveries else {
            return try outboxRows(
                "WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY id LIMIT $2",
                [now.parameter, limit.parameter])
        }
        // Claimed in one statement: rows another runner is claiming are skipped, rows whose claim
        // expired (its runner died mid-delivery) are due again; the claim ends with the attempt.
        let claimed = try run(
            """
            UPDATE \(table("webhook_outbox")) o SET claimed_until = $1::double precision + $3::double precision
            FROM (SELECT id FROM \(table("webhook_outbox"))
                WHERE state = 'pending' AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)
                ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) AS due
            WHERE o.id = due.id RETURNING o.id
            """, [now.parameter, limit.parameter, claimSeconds.parameter]
        ).compactMap { $0.int(0) }
        guard !claimed.isEmpty else { return [] }
        return try outboxRows(
            "WHERE id = ANY($1::bigint[]) ORDER BY id", [Self.intArray(claimed)])
    }

    /// The rows a `WHERE … ORDER BY … LIMIT …` tail selects.
    func outboxRows(_ filter: String, _ parameters: [String?] = []) throws(StoreError) -> [OutboxRow] {
        try run(
            """
            SELECT id, message_id, endpoint, job, run_id, body, state, attempts, created_at, next_attempt_at,
                last_status, last_error, delivered_at
            FROM \(table("webhook_outbox")) \(filter)
            """, parameters
        ).map { row in
            OutboxRow(
                id: row.int(0) ?? 0, messageID: row.string(1) ?? "", endpoint: row.string(2) ?? "",
                job: row.string(3) ?? "", runID: row.int(4), body: row.bytes(5) ?? [],
                state: OutboxState(rawValue: row.string(6) ?? "") ?? .pending, attempts: row.int(7) ?? 0,
                createdAt: row.double(8) ?? 0, nextAttemptAt: row.double(9) ?? 0, lastStatus: row.int(10),
                lastError: row.string(11), deliveredAt: row.double(12))
        }
    }

    public func recordAttempt(_ attempt: DeliveryAttempt) throws(StoreError) {
        try run(
            """
            UPDATE \(table("webhook_outbox")) SET state = $1, attempts = $2, last_attempt_at = $3,
                next_attempt_at = $4, last_status = $5, last_error = $6, claimed_until = NULL,
                delivered_at = CASE WHEN $1 = 'delivered' THEN $3 ELSE delivered_at END
            WHERE id = $7
            """,
            [
                attempt.state.rawValue, attempt.attempts.parameter, attempt.at.parameter,
                attempt.nextAttemptAt.parameter, attempt.status.map { "\($0)" }, attempt.error?.withoutNUL,
                attempt.id.parameter,
            ])
    }

    public func disableEndpoint(_ name: String, reason: String, now: Double) throws(StoreError) {
        try run(
            """
            INSERT INTO \(table("webhook_endpoints"))(name, disabled_at, reason) VALUES($1, $2, $3)
            ON CONFLICT (name) DO UPDATE SET disabled_at = $2, reason = $3
            """, [name, now.parameter, reason.withoutNUL])
        try run(
            "UPDATE \(table("webhook_outbox")) SET state = 'disabled' WHERE endpoint = $1 AND state = 'pending'",
            [name])
    }

    public func disabledEndpoints() throws(StoreError) -> Set<String> {
        Set(
            try run("SELECT name FROM \(table("webhook_endpoints")) WHERE disabled_at IS NOT NULL").compactMap {
                $0.string(0)
            })
    }
}
