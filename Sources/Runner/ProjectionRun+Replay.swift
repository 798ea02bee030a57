import Journal
import ProjectorCore
import SQLiteStore

extension ProjectionRun {
    /// `projector replay JOB --aggregate KEY [--from POSITION]`: re-runs one key. A refresh job
    /// refreshes it (idempotent); an apply job re-applies that key's events between `from` and its
    /// checkpoint, in journal order, in one transaction (for apply statements that are idempotent,
    /// such as upserts of values; counters are rebuilt with `rebuild`). Returns the executions.
    public func replay(key: String, from: Int?) throws(RunError) -> Int {
        let catalog = try selectedJobs()
        guard catalog.jobs.count == 1 else { throw .configuration("replay takes exactly one job") }
        let lock = options.lockHeld ? nil : try RunLock(path: options.lockPath, wait: options.waitForLock)
        defer { withExtendedLifetime(lock) {} }
        journal = try openJournal()
        try openDatabase()
        try prepareJobs(catalog)
        try verifyCheckpoints()
        try sqlite { () throws(SQLiteError) in
            runID = try store.beginRun(now: clock.now(), from: from ?? 0)
        }
        let state = states[0]
        switch state.definition.mode {
        case .refresh:
            try transaction { () throws(SQLiteError) in
                try refresh(state, key: key, firstPosition: from ?? 0, lastPosition: state.position)
            }
            if report.failures > 0 {
                throw .configuration(
                    "replay of \(key) failed: "
                        + (failures[FailureKey(job: state.definition.name, key: key)]?.error ?? ""))
            }
            return 1
        case .apply:
            let start = max(from ?? journal.start, journal.start)
            guard start < state.position else { return 0 }
            let cursor = try journalCall { () throws(JournalError) in
                try journal.cursor(from: start, limit: state.position, maxLineBytes: options.maxLineBytes)
            }
            var builder = BatchBuilder(jobs: [state.definition], maxDepth: options.maxDepth)
            let batch = Batch(capacity: 1 << 20)
            var applied = 0
            try transaction { () throws(SQLiteError) in
                var more = true
                while more {
                    do {
                        more = try builder.fill(batch, from: cursor, maxEvents: 5000, maxBytes: options.batchBytes)
                    } catch {
                        throw SQLiteError(code: 1, message: "\(error)")
                    }
                    for keyed in batch.keyed where keyed.key == key {
                        let event = batch.events[Int(keyed.event)]
                        try EventBinder.apply(
                            state.compiled.body, fields: event.fields, line: batch.line(event),
                            position: event.position,
                            key: key)
                        applied += 1
                    }
                }
            }
            return applied
        }
    }
}
