import PostgresClient
public import ProjectorCore

/// Failed keys, the events held back behind a parked key, and keys waiting for an upstream key.
extension PGStore {
    public func openFailures(jobs: [String]) throws(StoreError) -> [FailureKey: FailureRecord] {
        var result: [FailureKey: FailureRecord] = [:]
        let failures = try run(
            """
            SELECT job, key, state, mode, attempts, first_position, last_position, error, next_attempt_at
            FROM \(table("failures"))
            """)
        for row in failures {
            guard let job = row.string(0), jobs.contains(job), let key = row.string(1) else { continue }
            result[FailureKey(job: job, key: key)] = FailureRecord(
                job: job, key: key, state: FailureState(rawValue: row.string(2) ?? "") ?? .dead,
                attempts: row.int(4) ?? 0, firstPosition: row.int(5) ?? 0, lastPosition: row.int(6) ?? 0,
                error: row.string(7) ?? "", nextAttemptAt: row.double(8) ?? 0)
        }
        for row in try run("SELECT job, key, upstream_job, upstream_key FROM \(table("failure_waits"))") {
            guard let job = row.string(0), let key = row.string(1), let upstreamJob = row.string(2),
                let upstreamKey = row.string(3)
            else { continue }
            result[FailureKey(job: job, key: key)]?.waitsFor.insert(FailureKey(job: upstreamJob, key: upstreamKey))
        }
        return result
    }

    public func saveFailure(_ failure: FailureRecord, mode: JobDefinition.Mode, now: Double) throws(StoreError) {
        try run(
            """
            INSERT INTO \(table("failures"))(job, key, state, mode, attempts, first_position, last_position, error,
                first_failed_at, last_failed_at, next_attempt_at)
            VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)
            ON CONFLICT (job, key) DO UPDATE SET state = $3, attempts = $5, first_position = $6,
                last_position = $7, error = $8, last_failed_at = $9, next_attempt_at = $10
            """,
            [
                failure.job, failure.key, failure.state.rawValue, mode.rawValue, failure.attempts.parameter,
                failure.firstPosition.parameter, failure.lastPosition.parameter, failure.error.withoutNUL,
                now.parameter, failure.nextAttemptAt.parameter,
            ])
        try run("DELETE FROM \(table("failure_waits")) WHERE job = $1 AND key = $2", [failure.job, failure.key])
        for upstream in failure.waitsFor {
            try run(
                """
                INSERT INTO \(table("failure_waits"))(job, key, upstream_job, upstream_key) VALUES($1, $2, $3, $4)
                ON CONFLICT DO NOTHING
                """, [failure.job, failure.key, upstream.job, upstream.key])
        }
    }

    public func clearFailure(_ failure: FailureKey) throws(StoreError) {
        let key = [failure.job, failure.key]
        try run("DELETE FROM \(table("failures")) WHERE job = $1 AND key = $2", key)
        try run("DELETE FROM \(table("held_events")) WHERE job = $1 AND key = $2", key)
        try run("DELETE FROM \(table("failure_waits")) WHERE job = $1 AND key = $2", key)
        // Keys that only waited for this one say so until a run redoes them.
        try run(
            """
            UPDATE \(table("failures")) SET error = 'upstream ' || $1 || ' key ' || $2
                || ' no longer fails; the next run redoes this key'
            WHERE attempts = 0 AND (job, key) IN (
                SELECT job, key FROM \(table("failure_waits")) WHERE upstream_job = $1 AND upstream_key = $2)
            """, key)
    }

    public func hold(_ key: FailureKey, events: [HeldEvent]) throws(StoreError) {
        for event in events {
            try run(
                """
                INSERT INTO \(table("held_events"))(job, key, position, length) VALUES($1, $2, $3, $4)
                ON CONFLICT DO NOTHING
                """, [key.job, key.key, event.position.parameter, event.length.parameter])
        }
    }

    public func release(_ key: FailureKey, position: Int) throws(StoreError) {
        try run(
            "DELETE FROM \(table("held_events")) WHERE job = $1 AND key = $2 AND position = $3",
            [key.job, key.key, position.parameter])
    }

    public func heldEvents(of key: FailureKey) throws(StoreError) -> [HeldEvent] {
        try run(
            "SELECT position, length FROM \(table("held_events")) WHERE job = $1 AND key = $2 ORDER BY position",
            [key.job, key.key]
        ).map { HeldEvent(position: $0.int(0) ?? 0, length: $0.int(1) ?? 0) }
    }
}
