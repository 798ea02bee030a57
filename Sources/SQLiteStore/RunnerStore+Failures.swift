public import ProjectorCore

/// Failed keys, the events held back behind a parked key, and keys waiting for an upstream key.
extension RunnerStore {
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
