import Journal
import ProjectorCore
import SQLiteStore

extension ProjectionRun {
    /// Reads what a run would process and counts it per job (events matched, distinct keys),
    /// writing nothing.
    func dryRun() throws(RunError) {
        // A new refresh job with @keys would refresh every key and start at the journal's end.
        for state in states where checkpoints[state.definition.name] == nil && state.definition.keys != nil {
            state.report.initialized = true
            state.report.executions = (try? state.compiled.allKeys().count) ?? 0
            state.position = report.journalEnd
            state.report.fromPosition = report.journalEnd
            state.report.toPosition = report.journalEnd
        }
        guard let from = states.map(\.position).min(), from < report.journalEnd else { return }
        let cursor = try journalCall { () throws(JournalError) in
            try journal.cursor(from: from, limit: report.journalEnd, maxLineBytes: options.maxLineBytes)
        }
        var builder = BatchBuilder(jobs: states.map(\.definition), maxDepth: options.maxDepth)
        let batch = Batch(capacity: 1 << 20)
        var keys = [Set<String>](repeating: [], count: states.count)
        while true {
            var limit = options.batchEvents
            if let maxEvents = options.maxEvents {
                limit = min(limit, maxEvents - report.events)
                if limit <= 0 { break }
            }
            let more = try journalCall { () throws(JournalError) in
                try builder.fill(batch, from: cursor, maxEvents: limit, maxBytes: options.batchBytes)
            }
            report.events += batch.events.count
            report.rejects += batch.rejects.filter { !recorded($0) }.count
            var perJob = [[Int]](repeating: [], count: states.count)
            for (index, keyed) in batch.keyed.enumerated() {
                let state = states[Int(keyed.job)]
                guard batch.events[Int(keyed.event)].position >= state.position else { continue }
                perJob[Int(keyed.job)].append(index)
                if state.definition.mode == .apply {
                    state.report.executions += 1
                } else if keys[Int(keyed.job)].insert(keyed.key).inserted {
                    state.report.executions += 1
                }
                state.report.touch(keyed.key)
            }
            for (index, state) in states.enumerated() where state.position < batch.end {
                state.report.events += Self.distinctEvents(perJob[index], in: batch)
                let rejects = batch.jobRejects.filter {
                    $0.job == index && $0.reject.position >= state.position && !recorded($0.reject)
                }
                state.report.rejects += rejects.count
                report.rejects += rejects.count
                state.position = batch.end
                state.report.toPosition = batch.end
            }
            if !more { break }
        }
    }

    /// Whether a real run reported this reject before (a new database has recorded nothing).
    func recorded(_ reject: Reject) -> Bool {
        (try? store.isRecorded(reject)) ?? false
    }
}
