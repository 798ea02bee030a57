import Journal
import ProjectorCore
import SQLiteStore

extension ProjectionRun {
    /// Reads what a run would process and counts it per job (events, distinct keys), writing nothing.
    func dryRun() throws(RunError) {
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
            report.rejects += batch.rejects.count
            for keyed in batch.keyed {
                let state = states[Int(keyed.job)]
                guard batch.events[Int(keyed.event)].position >= state.position else { continue }
                if state.definition.mode == .apply {
                    state.report.executions += 1
                } else if keys[Int(keyed.job)].insert(keyed.key).inserted {
                    state.report.executions += 1
                }
                state.report.touch(keyed.key)
            }
            for (index, state) in states.enumerated() where state.position < batch.end {
                state.report.events += batch.events.count - Self.firstIndex(in: batch.events, atOrAfter: state.position)
                state.report.rejects +=
                    batch.jobRejects.filter { $0.job == index && $0.reject.position >= state.position }.count
                state.report.toPosition = batch.end
            }
            if !more { break }
        }
    }
}
