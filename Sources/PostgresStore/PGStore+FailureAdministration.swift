import PostgresClient
public import ProjectorCore

/// `projector failures list|retry|discard` on the runner's failure tables.
extension PGStore: FailureAdministration {
    public func failures(matching filter: FailureFilter) throws(StoreError) -> [FailureListing] {
        // Jobs in byte order (COLLATE "C"), as on SQLite, whatever the database's collation.
        try run(
            """
            SELECT f.job, f.key, f.state, f.mode, f.attempts, f.first_position, f.last_position, f.error,
                f.last_failed_at, f.next_attempt_at,
                (SELECT count(*) FROM \(table("held_events")) h WHERE h.job = f.job AND h.key = f.key)
            FROM \(table("failures")) f
            WHERE ($1::text IS NULL OR f.job = $1) AND ($2::text IS NULL OR f.key = $2)
                AND ($3::text IS NULL OR f.state = $3)
            ORDER BY f.job COLLATE "C", f.first_position
            """, [filter.job, filter.key, filter.state?.rawValue]
        ).map { row in
            let failure = FailureRecord(
                job: row.string(0) ?? "", key: row.string(1) ?? "",
                state: row.string(2).flatMap(FailureState.init(rawValue:)) ?? .dead, attempts: row.int(4) ?? 0,
                firstPosition: row.int(5) ?? 0, lastPosition: row.int(6) ?? 0, error: row.string(7) ?? "",
                nextAttemptAt: row.double(9) ?? 0)
            return FailureListing(
                failure: failure, mode: row.string(3) == JobDefinition.Mode.apply.rawValue ? .apply : .refresh,
                lastFailedAt: row.double(8) ?? 0, heldEvents: row.int(10) ?? 0)
        }
    }

    public func retryFailures(matching filter: FailureFilter, now: Double) throws(StoreError) -> Int {
        try run(
            """
            UPDATE \(table("failures")) SET attempts = 0, next_attempt_at = $4,
                state = CASE mode WHEN 'apply' THEN 'parked' ELSE 'retrying' END
            WHERE ($1::text IS NULL OR job = $1) AND ($2::text IS NULL OR key = $2) AND ($3::text IS NULL OR state = $3)
            """, [filter.job, filter.key, filter.state?.rawValue, now.parameter]
        ).affectedRows ?? 0
    }
}
