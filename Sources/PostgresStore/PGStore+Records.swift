import PostgresClient
public import ProjectorCore

/// Checkpoints, runs and rejects: what every batch writes besides the jobs' rows.
extension PGStore {
    // MARK: Checkpoints

    public func checkpoints() throws(StoreError) -> [String: Checkpoint] {
        var result: [String: Checkpoint] = [:]
        let rows = try run(
            """
            SELECT job, position, anchor_start, anchor_hash, anchor_segment, fingerprint, events_applied, updated_at
            FROM \(table("checkpoints"))
            """)
        for row in rows {
            guard let checkpoint = Self.checkpoint(row) else { continue }
            result[checkpoint.job] = checkpoint
        }
        return result
    }

    /// A checkpoint from a row of `job, position, anchor_start, anchor_hash, anchor_segment,
    /// fingerprint, events_applied, updated_at`.
    static func checkpoint(_ row: PGRow) -> Checkpoint? {
        guard let job = row.string(0) else { return nil }
        let anchor = CursorAnchor(
            position: row.int(1) ?? 0, start: row.int(2) ?? 0, hash: UInt64(row.string(3) ?? "0", radix: 16) ?? 0,
            segment: row.string(4) ?? "")
        return Checkpoint(
            job: job, anchor: anchor, fingerprint: row.string(5) ?? "", eventsApplied: row.int(6) ?? 0,
            updatedAt: row.double(7) ?? 0)
    }

    public func saveCheckpoint(
        job: String, anchor: CursorAnchor, fingerprint: String, eventsAdded: Int, now: Double
    ) throws(StoreError) {
        try run(
            """
            INSERT INTO \(table("checkpoints"))(job, position, anchor_start, anchor_hash, anchor_segment, fingerprint,
                events_applied, updated_at)
            VALUES($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (job) DO UPDATE SET position = $2, anchor_start = $3, anchor_hash = $4, anchor_segment = $5,
                fingerprint = $6, events_applied = \(table("checkpoints")).events_applied + $7, updated_at = $8
            """,
            [
                job, anchor.position.parameter, anchor.start.parameter, Fingerprint.hex(anchor.hash), anchor.segment,
                fingerprint, eventsAdded.parameter, now.parameter,
            ])
    }

    // MARK: Runs

    public func beginRun(now: Double, from position: Int) throws(StoreError) -> Int {
        let rows = try run(
            "INSERT INTO \(table("runs"))(started_at, from_position) VALUES($1, $2) RETURNING id",
            [now.parameter, position.parameter])
        return rows.first?.int(0) ?? 0
    }

    public func finishRun(_ run: FinishedRun) throws(StoreError) {
        try self.run(
            """
            UPDATE \(table("runs")) SET finished_at = $1, to_position = $2, events = $3, rejects = $4, failures = $5,
                outcome = $6, exit_code = $7 WHERE id = $8
            """,
            [
                run.finishedAt.parameter, run.toPosition.parameter, run.events.parameter, run.rejects.parameter,
                run.failures.parameter, run.outcome, run.exitCode.map { "\($0)" }, run.id.parameter,
            ])
        // Bounded history: `run --watch` records a run every few seconds, for ever.
        try self.run("DELETE FROM \(table("runs")) WHERE id <= $1", [(run.id - Self.runsKept).parameter])
    }

    /// How many of the latest runs `runs` keeps (their totals live on in the metrics).
    public static let runsKept = 10_000

    public func finishIdleRun(_ run: FinishedRun) throws(StoreError) {
        var idle = run
        idle.outcome = "idle"
        try transaction { () throws(StoreError) in
            let previous = try self.run(
                "SELECT id, outcome FROM \(table("runs")) WHERE id < $1 ORDER BY id DESC LIMIT 1", [run.id.parameter]
            ).first
            if let previous, previous.string(1) == "idle", let previousID = previous.int(0) {
                try self.run(
                    """
                    UPDATE \(table("runs")) SET (started_at, from_position) =
                        (SELECT started_at, from_position FROM \(table("runs")) WHERE id = $1)
                    WHERE id = $2
                    """, [run.id.parameter, previousID.parameter])
                try self.run("DELETE FROM \(table("runs")) WHERE id = $1", [run.id.parameter])
                idle.id = previousID
            }
            try finishRun(idle)
        }
    }

    // MARK: Rejects

    /// Records each reject once: a line re-read by a lagging or new job keeps its first record.
    public func recordRejects(_ rejects: [Reject], runID: Int, now: Double) throws(StoreError) -> [Bool] {
        var new: [Bool] = []
        new.reserveCapacity(rejects.count)
        for reject in rejects {
            let result = try run(
                """
                INSERT INTO \(table("rejects"))(position, job, length, code, reason, excerpt, recorded_at, run_id)
                VALUES($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (position, job) DO NOTHING
                """,
                [
                    reject.position.parameter, reject.job ?? "", reject.length.parameter, reject.reason.code,
                    reject.reason.description.withoutNUL, PGBytea.text(reject.excerpt), now.parameter, runID.parameter,
                ])
            new.append(result.affectedRows == 1)
        }
        return new
    }

    public func isRecorded(_ reject: Reject) throws(StoreError) -> Bool {
        try !run(
            "SELECT 1 FROM \(table("rejects")) WHERE position = $1 AND job = $2",
            [reject.position.parameter, reject.job ?? ""]
        ).isEmpty
    }
}

extension String {
    /// PostgreSQL's text cannot hold NUL: it is dropped.
    var withoutNUL: String { contains("\u{0}") ? String(unicodeScalars.filter { $0 != "\u{0}" }) : self }
}
