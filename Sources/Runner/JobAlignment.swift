import Journal
import Logging
import ProjectorCore

/// Before the stream: jobs that start somewhere other than their checkpoint.
struct JobAlignment {
    let session: Session

    /// A new refresh job with `@keys` does not replay history: it records the journal's end,
    /// refreshes every key, and continues from there (SPEC §3).
    func initializeNewRefreshJobs() throws(RunError) {
        let checkpoints = try session.storeCall { () throws(StoreError) in try session.store.checkpoints() }
        let execution = KeyExecution(store: session.store, ledger: session.ledger)
        let end = session.report.journalEnd
        for state in session.jobs where checkpoints[state.name] == nil && state.definition.keys != nil {
            let anchor = try session.journalCall { () throws(JournalError) in try session.journal.anchor(at: end) }
            let keys = try session.storeCall { () throws(StoreError) in try state.compiled.allKeys() }
            session.logger.info(
                "new refresh job: refreshing every key instead of replaying history",
                metadata: ["job": "\(state.name)", "keys": "\(keys.count)", "position": "\(end)"]
            )
            var index = 0
            repeat {
                let chunk = keys[index..<min(keys.count, index + session.options.batchEvents)]
                let first = index == 0
                let last = index + chunk.count >= keys.count
                try session.retryingConflicts("initialization of \(state.name)") { () throws(RunError) in
                    try session.transaction { () throws(StoreError) in
                        // Rows left by an earlier, interrupted initialization may belong to keys that no
                        // longer exist: the job's tables start empty (it has no checkpoint, so nothing
                        // relies on them).
                        if first { try session.store.clearTables(of: state.definition) }
                        let failuresBefore = state.report.failures
                        let refreshed = try execution.refresh(
                            state, chunk.map { KeyExecution.RefreshRange(key: $0, first: end, last: end) })
                        if let work = state.work(
                            from: end, to: end, events: 0, keys: refreshed,
                            failures: state.report.failures - failuresBefore
                        ) {
                            try session.store.accumulate(work)
                        }
                        if last {
                            try session.store.saveCheckpoint(
                                job: state.name, anchor: anchor, fingerprint: state.definition.fingerprint,
                                eventsAdded: 0,
                                now: session.clock.now())
                        }
                    }
                }
                index += chunk.count
            } while index < keys.count
            state.start(at: end)
            state.report.initialized = true
        }
    }

    /// A refresh job whose checkpoint is ahead of one of its upstream jobs (a new upstream job, or
    /// an upstream that ran less far) computed some keys from upstream rows that were not yet
    /// there: it goes back to the upstream's position and refreshes those keys again (idempotent).
    /// An apply job cannot be re-applied: it is named so that the operator rebuilds it.
    func alignDependentJobs() {
        let positions = Dictionary(session.jobs.map { ($0.name, $0.position) }, uniquingKeysWith: min)
        for state in session.jobs where !state.upstreams.isEmpty {
            let behind = state.upstreams.compactMap { name in positions[name].map { (name, $0) } }
                .filter { $0.1 < state.position }.sorted { $0.1 < $1.1 }
            guard let (upstream, position) = behind.first else { continue }
            switch state.definition.mode {
            case .refresh:
                session.logger.notice(
                    "an upstream job is behind this one: refreshing its keys again from the upstream's position",
                    metadata: [
                        "job": "\(state.name)", "upstream": "\(upstream)", "from": "\(position)",
                        "was": "\(state.position)",
                    ])
                state.start(at: max(position, session.journal.start))
            case .apply:
                session.logger.warning(
                    """
                    an upstream job is behind this apply job: events it applied may have read upstream rows \
                    that were not there yet; rebuild it once the upstream has caught up
                    """,
                    metadata: [
                        "job": "\(state.name)", "upstream": "\(upstream)",
                        "upstream_position": "\(position)", "position": "\(state.position)",
                    ])
            }
        }
    }

    /// When keys of a job failed, names objects of its tables that its `@setup` no longer creates
    /// (a trigger or CHECK removed from the file stays in the database and fails keys for ever).
    func warnAboutSetupDrift() {
        for state in session.jobs where state.report.failures > 0 {
            for finding in session.store.setupDrift(of: state.definition) {
                session.logger.warning(
                    "\(finding.message)", metadata: ["job": "\(finding.job)", "file": "\(finding.file)"])
            }
        }
    }
}
