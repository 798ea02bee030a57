import Journal
import ProjectorCore
import SQLiteStore

extension ProjectionRun {
    /// `projector replay JOB --aggregate KEY [--from POSITION]`: re-runs keys of one job, in one
    /// transaction, and notifies the job's endpoints of the keys it re-ran. A refresh job refreshes
    /// them (idempotent by construction). An apply job re-applies each key's events between `from`
    /// and its checkpoint in journal order, which is only correct when its statements may run twice
    /// for an event: the job must say so (`-- apply: idempotent`); counters are repaired with
    /// `rebuild`. Returns the executions.
    public func replay(keys: [String], from: Int?) throws(RunError) -> Int {
        let catalog = try selectedJobs()
        guard catalog.jobs.count == 1, let definition = catalog.jobs.first else {
            throw .usage("replay takes exactly one job")
        }
        if definition.mode == .apply && !definition.idempotentApply {
            throw .usage(
                """
                \(definition.name) is an apply job: applying its events again would count them twice. \
                Rebuild it instead (`projector rebuild \(definition.name)`), or, if its @apply statements may \
                run twice for an event (upserts of values, not counters), declare '-- apply: idempotent' in \
                \(definition.file)
                """)
        }
        let lock = options.lockHeld ? nil : try RunLock(options: options, logger: logger)
        defer { withExtendedLifetime(lock) {} }
        journal = try openJournal()
        try openDatabase()
        try prepareJobs(catalog)
        try verifyCheckpoints()
        try sqlite { () throws(SQLiteError) in
            runID = try store.beginRun(now: clock.now(), from: from ?? 0)
        }
        let state = states[0]
        let applied: Int
        do throws(RunError) {
            switch state.definition.mode {
            case .refresh:
                applied = try replayRefresh(state, keys: keys, from: from)
            case .apply:
                applied = try replayApply(state, keys: Set(keys), from: from)
            }
        } catch {
            try? finishReplay(at: state.position, failed: true)
            throw error
        }
        try notifyAndDeliver()
        try finishReplay(at: state.position, failed: false)
        return applied
    }

    func finishReplay(at position: Int, failed: Bool) throws(RunError) {
        try sqlite { () throws(SQLiteError) in
            try store.finishRun(
                id: runID, now: clock.now(), to: position, events: 0, rejects: 0, failures: failed ? 1 : 0,
                outcome: failed ? "failures" : "ok", exitCode: options.exitCode?(failed ? .failures : .caughtUp))
        }
    }

    /// Refreshes each key; a key that fails rolls the whole replay back (nothing half-done).
    func replayRefresh(_ state: JobState, keys: [String], from: Int?) throws(RunError) -> Int {
        var failed: (key: String, error: SQLiteError)?
        try transaction { () throws(SQLiteError) in
            for key in keys {
                do throws(SQLiteError) {
                    try EventBinder.refresh(state.compiled.body, key: key)
                } catch  where Self.isKeyLocal(error) {
                    failed = (key, error)
                    throw error
                }
            }
            try queueReplayNotification(state, keys: keys, from: from ?? 0, events: 0)
        } onFailure: { error in
            if let failed {
                return .keyFailed(job: state.definition.name, key: failed.key, position: nil, cause: failed.error)
            }
            return RunError.from(error)
        }
        return keys.count
    }

    /// Re-applies the keys' events from `from` up to the checkpoint, in journal order.
    func replayApply(_ state: JobState, keys: Set<String>, from: Int?) throws(RunError) -> Int {
        let start = max(from ?? journal.start, journal.start)
        guard start < state.position else { return 0 }
        let cursor = try journalCall { () throws(JournalError) in
            try journal.cursor(from: start, limit: state.position, maxLineBytes: options.maxLineBytes)
        }
        var builder = BatchBuilder(jobs: [state.definition], maxDepth: options.maxDepth)
        let batch = Batch(capacity: 1 << 20)
        var applied = 0
        try transactionReadingJournal { () throws(RunError) in
            var more = true
            while more {
                more = try journalCall { () throws(JournalError) in
                    try builder.fill(batch, from: cursor, maxEvents: 5000, maxBytes: options.batchBytes)
                }
                for keyed in batch.keyed where keys.contains(keyed.key) {
                    let event = batch.events[Int(keyed.event)]
                    do throws(SQLiteError) {
                        try EventBinder.apply(
                            state.compiled.body, fields: event.fields, line: batch.line(event),
                            position: event.position, key: keyed.key)
                    } catch  where Self.isKeyLocal(error) {
                        throw .keyFailed(
                            job: state.definition.name, key: keyed.key, position: event.position, cause: error)
                    } catch {
                        throw RunError.from(error)
                    }
                    applied += 1
                }
            }
            try sqlite { () throws(SQLiteError) in
                try queueReplayNotification(state, keys: keys.sorted(), from: start, events: applied)
            }
        }
        return applied
    }

    /// Tells the job's endpoints which keys were re-run, in the replay's own transaction.
    func queueReplayNotification(_ state: JobState, keys: [String], from: Int, events: Int) throws(SQLiteError) {
        guard !state.endpoints.isEmpty, !keys.isEmpty else { return }
        try store.accumulate(
            job: state.definition.name, from: from, to: state.position, events: events, keys: keys, failures: 0)
    }

    /// A transaction whose body also reads the journal, so it fails with a journal error as well as
    /// a SQLite one; any failure rolls it back.
    func transactionReadingJournal(_ body: () throws(RunError) -> Void) throws(RunError) {
        try sqlite { () throws(SQLiteError) in try db.execute("BEGIN IMMEDIATE") }
        do throws(RunError) {
            try body()
            try sqlite { () throws(SQLiteError) in try db.execute("COMMIT") }
        } catch {
            if db.isInTransaction { try? db.execute("ROLLBACK") }
            throw error
        }
    }

    /// A transaction whose failure is described by `onFailure` (which knows what the body was doing).
    func transaction(
        _ body: () throws(SQLiteError) -> Void, onFailure: (SQLiteError) -> RunError
    ) throws(RunError) {
        do throws(SQLiteError) {
            try db.transaction { () throws(SQLiteError) in try body() }
        } catch {
            throw onFailure(error)
        }
    }
}
