public import ProjectorCore

/// `projector status`'s reading of the runner's tables.
extension RunnerStore: StatusReading {
    public func status() throws(StoreError) -> StoreStatus? {
        guard try hasTable("projector_checkpoints") else { return nil }
        var status = StoreStatus(checkpoints: try checkpoints())
        try sqlite { () throws(SQLiteError) in
            for row in try db.rows("SELECT job, state, count(*) FROM projector_failures GROUP BY job, state") {
                let job = row[0].string ?? ""
                let count = row[2].int ?? 0
                switch row[1].string.flatMap(FailureState.init(rawValue:)) {
                case .retrying: status.failures[job, default: FailureCounts()].retrying = count
                case .parked: status.failures[job, default: FailureCounts()].parked = count
                default: status.failures[job, default: FailureCounts()].dead = count
                }
            }
            for row in try db.rows("SELECT job, count(*) FROM projector_held_events GROUP BY job") {
                status.failures[row[0].string ?? "", default: FailureCounts()].held = row[1].int ?? 0
            }
            for row in try db.rows("SELECT job, count(*) FROM projector_rejects GROUP BY job") {
                status.rejects[row[0].string ?? ""] = row[1].int ?? 0
            }
            if let row = try db.rows(
                """
                SELECT id, started_at, finished_at, events, rejects, failures, outcome, exit_code
                FROM projector_runs ORDER BY id DESC LIMIT 1
                """
            ).first {
                status.lastRun = RunRecord(
                    id: row[0].int ?? 0, startedAt: row[1].double ?? 0, finishedAt: row[2].double,
                    events: row[3].int ?? 0, rejects: row[4].int ?? 0, failures: row[5].int ?? 0,
                    outcome: row[6].string ?? "", exitCode: row[7].int)
            }
        }
        status.duplicateWindow = try duplicateWindowStatus()
        if try hasTable("projector_webhook_outbox") {
            status.outbox = try outboxCounts()
            status.disabledEndpoints = try disabledEndpoints()
        }
        return status
    }

    /// Whether the database has a table of that name (the runner's tables are created by a run:
    /// a read-only command finds them missing in a database no run has used).
    func hasTable(_ name: String) throws(StoreError) -> Bool {
        try sqlite { () throws(SQLiteError) in
            try !db.rows("SELECT 1 FROM sqlite_master WHERE name = ?", [.text(name)]).isEmpty
        }
    }
}
