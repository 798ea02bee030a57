public import ProjectorCore

/// `projector failures list|retry|discard` on the runner's failure tables.
extension RunnerStore: FailureAdministration {
    public func failures(matching filter: FailureFilter) throws(StoreError) -> [FailureListing] {
        let rows = try sqlite { () throws(SQLiteError) in
            try db.rows(
                """
                SELECT f.job, f.key, f.state, f.mode, f.attempts, f.first_position, f.last_position, f.error,
                    f.last_failed_at, f.next_attempt_at,
                    (SELECT count(*) FROM projector_held_events h WHERE h.job = f.job AND h.key = f.key)
                FROM projector_failures f
                WHERE (?1 IS NULL OR f.job = ?1) AND (?2 IS NULL OR f.key = ?2) AND (?3 IS NULL OR f.state = ?3)
                ORDER BY f.job, f.first_position
                """, [SQLValue(filter.job), SQLValue(filter.key), SQLValue(filter.state?.rawValue)])
        }
        return rows.map { row in
            let failure = FailureRecord(
                job: row[0].string ?? "", key: row[1].string ?? "",
                state: row[2].string.flatMap(FailureState.init(rawValue:)) ?? .dead, attempts: row[4].int ?? 0,
                firstPosition: row[5].int ?? 0, lastPosition: row[6].int ?? 0, error: row[7].string ?? "",
                nextAttemptAt: row[9].double ?? 0)
            return FailureListing(
                failure: failure, mode: row[3].string == JobDefinition.Mode.apply.rawValue ? .apply : .refresh,
                lastFailedAt: row[8].double ?? 0, heldEvents: row[10].int ?? 0)
        }
    }

    public func retryFailures(matching filter: FailureFilter, now: Double) throws(StoreError) -> Int {
        try sqlite { () throws(SQLiteError) in
            try db.run(
                """
                UPDATE projector_failures SET attempts = 0, next_attempt_at = ?4,
                    state = CASE mode WHEN 'apply' THEN 'parked' ELSE 'retrying' END
                WHERE (?1 IS NULL OR job = ?1) AND (?2 IS NULL OR key = ?2) AND (?3 IS NULL OR state = ?3)
                """, [SQLValue(filter.job), SQLValue(filter.key), SQLValue(filter.state?.rawValue), .real(now)])
            return db.changes
        }
    }
}
