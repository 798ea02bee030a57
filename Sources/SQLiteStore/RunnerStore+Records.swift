public import ProjectorCore

/// Checkpoints, runs, rejects and the event ids seen: what every batch writes besides the jobs' rows.
extension RunnerStore {
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

    public func finishIdleRun(_ run: FinishedRun) throws(StoreError) {
        var idle = run
        idle.outcome = "idle"
        try transaction { () throws(StoreError) in
            try sqlite { () throws(SQLiteError) in
                let previous = try db.rows(
                    "SELECT id, outcome FROM projector_runs WHERE id < ? ORDER BY id DESC LIMIT 1", [SQLValue(run.id)]
                ).first
                guard let previous, previous[1].string == "idle", let previousID = previous[0].int else { return }
                try db.run(
                    """
                    UPDATE projector_runs SET (started_at, from_position) =
                        (SELECT started_at, from_position FROM projector_runs WHERE id = ?1)
                    WHERE id = ?2
                    """, [SQLValue(run.id), SQLValue(previousID)])
                try db.run("DELETE FROM projector_runs WHERE id = ?", [SQLValue(run.id)])
                idle.id = previousID
            }
            try finishRun(idle)
        }
    }

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
}
