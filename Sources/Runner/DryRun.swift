import ProjectorCore

/// `run --dry-run`: reads what a run would process and counts it per job (events matched,
/// distinct keys), writing nothing.
struct DryRun {
    let session: Session

    func count() throws(RunError) {
        let jobs = session.jobs
        let end = session.report.journalEnd
        // A new refresh job with @keys would refresh every key and start at the journal's end.
        for state in jobs where session.checkpoints[state.name] == nil && state.definition.keys != nil {
            state.start(at: end)
            state.report.initialized = true
            state.report.executions = (try? state.compiled.allKeys().count) ?? 0
        }
        var keys = [Set<String>](repeating: [], count: jobs.count)
        let loop = BatchLoop(
            session: session, jobs: jobs.map(\.definition), sizing: .fixed(events: session.options.batchEvents),
            stops: BatchLoop.Stops(maxEvents: session.options.maxEvents))
        _ = try loop.run(from: jobs.map(\.position).min() ?? end, to: end, started: Monotonic.now()) {
            (batch) throws(RunError) in
            session.report.events += batch.events.count
            session.report.rejects += batch.rejects.filter { !recorded($0) }.count
            var perJob = [[Int]](repeating: [], count: jobs.count)
            for (index, keyed) in batch.keyed.enumerated() {
                let state = jobs[Int(keyed.job)]
                guard batch.events[Int(keyed.event)].position >= state.position else { continue }
                perJob[Int(keyed.job)].append(index)
                if state.definition.mode == .apply || keys[Int(keyed.job)].insert(keyed.key).inserted {
                    state.report.executions += 1
                }
                state.report.touch(keyed.key)
            }
            for (index, state) in jobs.enumerated() where state.position < batch.end {
                state.report.events += BatchApplier.distinctEvents(perJob[index], in: batch)
                let rejects = batch.jobRejects.filter {
                    $0.job == index && $0.reject.position >= state.position && !recorded($0.reject)
                }
                state.report.rejects += rejects.count
                session.report.rejects += rejects.count
                state.position = batch.end
                state.report.toPosition = batch.end
            }
        }
    }

    /// Whether a real run reported this reject before (a new database has recorded nothing).
    private func recorded(_ reject: Reject) -> Bool {
        (try? session.store.isRecorded(reject)) ?? false
    }
}
