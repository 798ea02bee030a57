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

    // MARK: Event ids

    /// For each id, the earliest position at which an id with its hash was seen, recording its
    /// position when it is the first; then the window's bookkeeping and a bounded step of pruning.
    ///
    /// `INSERT OR IGNORE` then, only on a conflict, a lookup: one statement in the common case,
    /// and no `RETURNING` (which builds a temporary table per execution).
    public func firstPositions(of ids: EventIDList, window: DuplicateWindow) throws(StoreError) -> [Int] {
        guard !ids.isEmpty else { return [] }
        return try sqlite { () throws(SQLiteError) in
            let insert = try cached("INSERT OR IGNORE INTO projector_event_window(hash, position) VALUES(?, ?)")
            let select = try cached("SELECT position FROM projector_event_window WHERE hash = ?")
            var result: [Int] = []
            result.reserveCapacity(ids.count)
            var recorded = 0
            for index in 0..<ids.count {
                let position = ids.positions[index]
                try insert.bind(.integer(ids.hashes[index]), at: 1)
                try insert.bind(int: position, at: 2)
                try insert.run()
                if db.changes == 1 {
                    recorded += 1
                    result.append(position)
                    continue
                }
                try select.bind(.integer(ids.hashes[index]), at: 1)
                var first = position
                while try select.step() { first = min(first, select.int(at: 0)) }
                result.append(first)
            }
            try advanceWindow(to: ids.end, recorded: recorded, latestOccurredAt: ids.latestOccurredAt, window: window)
            return result
        }
    }

    /// Records how far the recorded ids go (a mark per stretch of the window: position, running
    /// count, latest `occurredAt`), then prunes ids before the window: a step of the sweep that
    /// walks the table in hash order, a few rows per id recorded, so each batch does bounded work
    /// and the table stays within a third of the window's size plus the window.
    func advanceWindow(
        to end: Int, recorded: Int, latestOccurredAt: Double?, window: DuplicateWindow
    ) throws(SQLiteError) {
        let marks = try cached(
            "SELECT position, occurred_at, recorded FROM projector_event_window_marks ORDER BY position DESC LIMIT 2")
        var latest: (position: Int, occurred: Double?, recorded: Int)?
        var previous: (position: Int, occurred: Double?, recorded: Int)?
        while try marks.step() {
            let mark = (
                position: marks.int(at: 0), occurred: marks.isNull(at: 1) ? nil : marks.value(at: 1).double,
                recorded: marks.int(at: 2)
            )
            if latest == nil { latest = mark } else { previous = mark }
        }
        var total = (latest?.recorded ?? 0) + recorded
        var occurred = [latest?.occurred, latestOccurredAt].compactMap { $0 }.max()
        if let latest, end <= latest.position {
            // A job catching up over ids recorded before: the marks already cover these positions.
            total = latest.recorded
            occurred = latest.occurred
        } else {
            // A mark covers at least 1/32 of the window (in ids or in time): a bounded number of marks.
            let extend: Bool
            if latest != nil, let previous {
                let ids = total - previous.recorded
                let seconds = (occurred ?? 0) - (previous.occurred ?? occurred ?? 0)
                extend = ids < max(window.events / 32, 1) && seconds < window.seconds / 32
            } else {
                extend = false
            }
            let write = try cached(
                extend
                    ? "UPDATE projector_event_window_marks SET position = ?1, occurred_at = ?2, recorded = ?3 WHERE position = ?4"
                    : "INSERT INTO projector_event_window_marks(position, occurred_at, recorded) VALUES(?1, ?2, ?3)")
            try write.bind(int: end, at: 1)
            try write.bind(occurred.map { .real($0) } ?? .null, at: 2)
            try write.bind(int: total, at: 3)
            if extend, let latest { try write.bind(int: latest.position, at: 4) }
            try write.run()
        }
        // The last mark wholly outside the window: every id before its position may go.
        let cutoffQuery = try cached(
            """
            SELECT max(position) FROM projector_event_window_marks
            WHERE recorded <= ?1 AND (?2 IS NULL OR occurred_at IS NULL OR occurred_at < ?2 - ?3)
            """
        )
        try cutoffQuery.bind(int: total - window.events, at: 1)
        try cutoffQuery.bind(occurred.map { .real($0) } ?? .null, at: 2)
        try cutoffQuery.bind(.real(window.seconds), at: 3)
        var cutoff: Int?
        while try cutoffQuery.step() {
            if !cutoffQuery.isNull(at: 0) { cutoff = cutoffQuery.int(at: 0) }
        }
        guard let cutoff else { return }
        let forget = try cached("DELETE FROM projector_event_window_marks WHERE position < ?")
        try forget.bind(int: cutoff, at: 1)
        try forget.run()
        try sweep(before: cutoff, rows: max(4 * recorded, 256))
    }

    /// Examines the next `rows` ids in hash order from where the last step stopped and deletes
    /// those recorded before `cutoff`; at the end of the table the next step starts over.
    func sweep(before cutoff: Int, rows: Int) throws(SQLiteError) {
        let cursor = try cached("SELECT value FROM projector_meta WHERE key = 'event_window_sweep'")
        var from = Int64.min
        while try cursor.step() { from = cursor.value(at: 0).int.map(Int64.init) ?? Int64.min }
        let scan = try cached(
            "SELECT hash, position FROM projector_event_window WHERE hash >= ? ORDER BY hash LIMIT ?")
        try scan.bind(.integer(from), at: 1)
        try scan.bind(int: rows, at: 2)
        var doomed: [Int64] = []
        var seen = 0
        var last = from
        while try scan.step() {
            seen += 1
            last = scan.value(at: 0).int.map(Int64.init) ?? last
            if scan.int(at: 1) < cutoff { doomed.append(last) }
        }
        let delete = try cached("DELETE FROM projector_event_window WHERE hash = ?")
        for hash in doomed {
            try delete.bind(.integer(hash), at: 1)
            try delete.run()
        }
        let next = seen < rows || last == Int64.max ? Int64.min : last + 1
        let save = try cached("INSERT OR REPLACE INTO projector_meta(key, value) VALUES('event_window_sweep', ?)")
        try save.bind(.integer(next), at: 1)
        try save.run()
        let saveCutoff = try cached(
            "INSERT OR REPLACE INTO projector_meta(key, value) VALUES('event_window_from', ?)")
        try saveCutoff.bind(int: cutoff, at: 1)
        try saveCutoff.run()
    }

    /// What the de-duplication table holds (nil before any run created it).
    public func duplicateWindowStatus() throws(StoreError) -> DuplicateWindowStatus? {
        guard try hasTable("projector_event_window") else { return nil }
        return try sqlite { () throws(SQLiteError) in
            let ids = try db.rows("SELECT count(*) FROM projector_event_window").first?[0].int ?? 0
            let from =
                try db.rows("SELECT value FROM projector_meta WHERE key = 'event_window_from'").first?[0].int ?? 0
            let latest =
                try db.rows(
                    "SELECT recorded FROM projector_event_window_marks ORDER BY position DESC LIMIT 1"
                ).first?[0].int ?? 0
            let since = try db.rows(
                "SELECT occurred_at FROM projector_event_window_marks WHERE position = ?", [SQLValue(from)]
            ).first?[0].double
            return DuplicateWindowStatus(ids: ids, recorded: latest, fromPosition: from, since: from == 0 ? nil : since)
        }
    }
}
