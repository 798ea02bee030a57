import Journal
import ProjectorCore

/// `projector replay JOB --aggregate KEY [--from POSITION]`: re-runs keys of one job in one
/// transaction, and notifies the job's endpoints of the keys it re-ran. A key that fails rolls the
/// whole replay back (nothing half-done).
struct Replay {
    let session: Session
    let state: JobState

    /// Refreshes each key (idempotent by construction).
    func refresh(keys: [String], from: Int?) throws(RunError) -> Int {
        try session.atomically { () throws(RunError) in
            for key in keys {
                do throws(StoreError) {
                    try state.compiled.refresh(key: key)
                } catch  where error.isKeyLocal {
                    throw .keyFailed(job: state.name, key: key, position: nil, cause: error)
                } catch {
                    throw .from(error)
                }
            }
            try notify(keys: keys, from: from ?? 0, events: 0)
        }
        return keys.count
    }

    /// Re-applies the keys' events from `from` up to the checkpoint, in journal order.
    func apply(keys: Set<String>, from: Int?) throws(RunError) -> Int {
        let journal = session.journal
        let start = max(from ?? journal.start, journal.start)
        guard start < state.position else { return 0 }
        var applied = 0
        let loop = BatchLoop(session: session, jobs: [state.definition], sizing: .fixed(events: 5000))
        try session.atomically { () throws(RunError) in
            _ = try loop.run(from: start, to: state.position, started: Monotonic.now()) { (batch) throws(RunError) in
                for keyed in batch.keyed where keys.contains(keyed.key) {
                    let event = batch.eventLine(Int(keyed.event))
                    do throws(StoreError) {
                        try state.compiled.apply(event, key: keyed.key)
                    } catch  where error.isKeyLocal {
                        throw .keyFailed(job: state.name, key: keyed.key, position: event.position, cause: error)
                    } catch {
                        throw .from(error)
                    }
                    applied += 1
                }
            }
            try notify(keys: keys.sorted(), from: start, events: applied)
        }
        return applied
    }

    /// Tells the job's endpoints which keys were re-run, in the replay's own transaction.
    private func notify(keys: [String], from: Int, events: Int) throws(RunError) {
        guard !keys.isEmpty,
            let work = state.work(from: from, to: state.position, events: events, keys: keys, failures: 0)
        else { return }
        try session.storeCall { () throws(StoreError) in try session.store.accumulate(work) }
    }
}
