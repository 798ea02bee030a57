import PostgresClient
public import ProjectorCore

/// `projector status`'s reading of the runner's tables, in one round trip (a pipeline).
extension PGStore: StatusReading {
    public func status() throws(StoreError) -> StoreStatus? {
        let windowMeta = "SELECT value FROM \(table("meta")) WHERE key = $1"
        let answers = try pipelined([
            (
                """
                SELECT job, position, anchor_start, anchor_hash, anchor_segment, fingerprint, events_applied,
                    updated_at
                FROM \(table("checkpoints"))
                """, []
            ),
            ("SELECT job, state, count(*) FROM \(table("failures")) GROUP BY job, state", []),
            ("SELECT job, count(*) FROM \(table("held_events")) GROUP BY job", []),
            ("SELECT job, count(*) FROM \(table("rejects")) GROUP BY job", []),
            (
                """
                SELECT id, started_at, finished_at, events, rejects, failures, outcome, exit_code
                FROM \(table("runs")) ORDER BY id DESC LIMIT 1
                """, []
            ),
            (
                "SELECT coalesce(sum(ids), 0), coalesce(max(recorded), 0) FROM \(table("event_window_chunks"))",
                []
            ),
            (windowMeta, ["event_window_from"]),
            (windowMeta, ["event_window_since"]),
            ("SELECT state, count(*) FROM \(table("webhook_outbox")) GROUP BY state", []),
            ("SELECT name FROM \(table("webhook_endpoints")) WHERE disabled_at IS NOT NULL", []),
        ])
        var results: [PGResult] = []
        for answer in answers {
            switch answer {
            case .success(let result): results.append(result)
            case .failure(let error) where results.isEmpty && Self.isMissingRunnerTable(error): return nil
            case .failure(let error): throw error.storeError
            }
        }
        var status = StoreStatus()
        for row in results[0] {
            guard let checkpoint = Self.checkpoint(row) else { continue }
            status.checkpoints[checkpoint.job] = checkpoint
        }
        for row in results[1] {
            let job = row.string(0) ?? ""
            let count = row.int(2) ?? 0
            switch row.string(1).flatMap(FailureState.init(rawValue:)) {
            case .retrying: status.failures[job, default: FailureCounts()].retrying = count
            case .parked: status.failures[job, default: FailureCounts()].parked = count
            default: status.failures[job, default: FailureCounts()].dead = count
            }
        }
        for row in results[2] {
            status.failures[row.string(0) ?? "", default: FailureCounts()].held = row.int(1) ?? 0
        }
        for row in results[3] {
            status.rejects[row.string(0) ?? ""] = row.int(1) ?? 0
        }
        if let row = results[4].first {
            status.lastRun = RunRecord(
                id: row.int(0) ?? 0, startedAt: row.double(1) ?? 0, finishedAt: row.double(2),
                events: row.int(3) ?? 0, rejects: row.int(4) ?? 0, failures: row.int(5) ?? 0,
                outcome: row.string(6) ?? "", exitCode: row.int(7))
        }
        let from = results[6].first?.string(0).flatMap { Double($0) }.map { Int($0) } ?? 0
        status.duplicateWindow = DuplicateWindowStatus(
            ids: results[5].first?.int(0) ?? 0, recorded: results[5].first?.int(1) ?? 0, fromPosition: from,
            since: from == 0 ? nil : results[7].first?.string(0).flatMap { Double($0) })
        for row in results[8] {
            guard let state = row.string(0).flatMap(OutboxState.init(rawValue:)) else { continue }
            status.outbox[state] = row.int(1) ?? 0
        }
        status.disabledEndpoints = Set(results[9].compactMap { $0.string(0) })
        return status
    }

    /// Whether a run has created the runner's tables in this database (the read-only commands
    /// find them missing in a database no run has used).
    public func hasRunnerTables() throws(StoreError) -> Bool {
        try run("SELECT to_regclass($1) IS NOT NULL", [table("checkpoints")]).first?.bool(0) ?? false
    }

    /// Whether `error` says the runner's schema or one of its tables does not exist (yet).
    static func isMissingRunnerTable(_ error: PGError) -> Bool {
        error.sqlState == "42P01" || error.sqlState == "3F000"
    }

    /// Sends `statements` with their text parameters in one pipeline (one round trip; outside a
    /// transaction, one implicit transaction) and returns each one's result or error.
    func pipelined(_ statements: [(String, [String?])]) throws(StoreError) -> [Result<PGResult, PGError>] {
        try pg { () throws(PGError) in
            try connection.pipeline { (pipeline) throws(PGError) in
                for (sql, parameters) in statements { try pipeline.send(sql, parameters) }
            }
        }
    }
}
