import Journal
import Logging
import ProjectorCore

/// What a command that processes events works with, opened once: the run lock (unless the
/// caller holds it or nothing is written), the journal, the store with the selected jobs compiled,
/// the failure ledger and the report being written. Used by run, dry run, replay, rebuild and verify.
final class Session {
    let options: RunOptions
    var logger: Logger
    let clock: any WallClock
    let journal: Journal
    let store: any ProjectionStore
    /// In the order a run applies them (dependencies first).
    let jobs: [JobState]
    /// The checkpoints as they were when the session opened.
    let checkpoints: [String: Checkpoint]
    let ledger: FailureLedger
    var report: RunReport
    var runID = 0
    private let lock: RunLock?

    /// `startedAt` is when the command started (before any wait for the lock).
    init(
        _ catalog: JobCatalog, options: RunOptions, logger: Logger, clock: any WallClock, startedAt: Double
    ) throws(RunError) {
        self.options = options
        self.logger = logger
        self.clock = clock
        lock = options.dryRun || options.lockHeld ? nil : try RunLock(options: options, logger: logger)
        journal = try Journal.opened(options.journalPath)
        let prepared = try PreparedJobs.prepare(
            catalog, options: options, logger: logger, purpose: options.dryRun ? .inspect : .write)
        store = prepared.store
        jobs = prepared.jobs
        checkpoints = prepared.checkpoints
        ledger = FailureLedger(
            failures: prepared.failures, store: prepared.store, retry: options.retry, clock: clock, logger: logger)
        report = RunReport(
            runID: 0, dryRun: options.dryRun, startedAt: startedAt, duration: 0, fromPosition: 0, toPosition: 0,
            journalEnd: 0, events: 0, rejects: 0, failures: 0, recovered: 0, batches: 0, jobs: [], stoppedEarly: false
        )
        try verifyCheckpoints()
        report.journalEnd = try Session.journalCall { () throws(JournalError) in try journal.lastLineBoundary() }
    }

    /// Checks each job's checkpoint against the journal: the bytes before it must be those it read.
    private func verifyCheckpoints() throws(RunError) {
        for state in jobs {
            let definition = state.definition
            if let checkpoint = checkpoints[definition.name] {
                try Session.journalCall { () throws(JournalError) in
                    try journal.verify(job: definition.name, anchor: checkpoint.anchor)
                }
                if !definition.matchesFingerprint(checkpoint.fingerprint) {
                    state.checkpointFingerprint = checkpoint.fingerprint
                    logger.warning(
                        "job definition changed since its read model was built; a rebuild applies it to past events",
                        metadata: ["job": "\(definition.name)", "file": "\(definition.file)"]
                    )
                }
            } else if journal.start > 0, definition.mode == .apply || definition.keys == nil {
                throw RunError.historyPruned(job: definition.name, start: journal.start)
            }
        }
    }

    /// Records the run's row; its id goes into every log line from here on.
    func beginRun(from position: Int) throws(RunError) {
        runID = try storeCall { () throws(StoreError) in try store.beginRun(now: clock.now(), from: position) }
        report.runID = runID
        logger[metadataKey: "run_id"] = "\(runID)"
        ledger.logger = logger
    }

    /// Finishes the run's row (a watch's run that found nothing shares one row with the idle runs
    /// before it), then prunes what is older than the retention period, a bounded amount per run.
    func finishRun(to position: Int, events: Int, rejects: Int, failures: Int, outcome: RunReport.Outcome)
        throws(RunError)
    {
        let now = clock.now()
        let run = FinishedRun(
            id: runID, finishedAt: now, toPosition: position, events: events, rejects: rejects,
            failures: failures, outcome: outcome.isClean ? "ok" : "failures", exitCode: options.exitCode?(outcome))
        let idle =
            options.collapsesIdleRuns && outcome.isClean && events == 0 && rejects == 0 && failures == 0
            && report.recovered == 0 && report.notificationsQueued == 0 && report.deliveries.attempted == 0
        try storeCall { () throws(StoreError) in try idle ? store.finishIdleRun(run) : store.finishRun(run) }
        let pruning = HistoryPruning(
            before: now - options.retentionDays * 86_400, currentRun: runID, journalStart: journal.start,
            limit: options.pruneLimit)
        do throws(StoreError) {
            let pruned = try store.prune(pruning)
            if pruned.total > 0 {
                logger.info(
                    "pruned old records",
                    metadata: [
                        "runs": "\(pruned.runs)", "notifications": "\(pruned.notifications)",
                        "rejects": "\(pruned.rejects)",
                    ])
            }
        } catch {
            // Bookkeeping: the run's work is committed; the next run prunes instead.
            logger.warning("could not prune old records", metadata: ["error": "\(error)"])
        }
    }

    /// Completes the report with the jobs' parts and the run's range and cost.
    func finishReport(started: Double) -> RunReport {
        report.jobs = jobs.map(\.report)
        report.toPosition = jobs.map(\.position).min() ?? report.journalEnd
        report.fromPosition = jobs.map(\.report.fromPosition).min() ?? 0
        report.duration = Monotonic.now() - started
        report.peakMemoryBytes = PeakMemory.bytes()
        report.databaseRoundTrips = store.roundTrips
        return report
    }

    // MARK: Errors

    func transaction<T>(_ body: () throws(StoreError) -> T) throws(RunError) -> T {
        try storeCall { () throws(StoreError) in try store.transaction { () throws(StoreError) in try body() } }
    }

    /// A transaction whose body also reads the journal or knows what a failure means: any error
    /// it throws rolls the transaction back and is reported as it is.
    func atomically<T>(_ body: () throws(RunError) -> T) throws(RunError) -> T {
        var failure: RunError?
        do throws(StoreError) {
            return try store.transaction { () throws(StoreError) in
                do throws(RunError) {
                    return try body()
                } catch {
                    failure = error
                    throw Session.abandoned
                }
            }
        } catch {
            throw failure ?? .from(error)
        }
    }

    private static let abandoned = StoreError(
        kind: .other, message: "rolled back", code: "", description: "rolled back")

    func storeCall<T>(_ body: () throws(StoreError) -> T) throws(RunError) -> T {
        try Session.storeCall(body)
    }

    /// Runs store calls, reporting their failure as a run's.
    static func storeCall<T>(_ body: () throws(StoreError) -> T) throws(RunError) -> T {
        do throws(StoreError) {
            return try body()
        } catch {
            throw RunError.from(error)
        }
    }

    func journalCall<T>(_ body: () throws(JournalError) -> T) throws(RunError) -> T {
        try Session.journalCall(body)
    }

    static func journalCall<T>(_ body: () throws(JournalError) -> T) throws(RunError) -> T {
        do throws(JournalError) {
            return try body()
        } catch {
            if case .notFound(let path) = error { throw .missingPath(what: "a journal file", path: path) }
            throw .journal(error)
        }
    }
}
