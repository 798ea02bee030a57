import Journal
public import Logging
public import ProjectorCore

/// The commands that process events (SPEC §4): `run` (and its dry run), `validate` and `replay`.
/// Each opens a `Session` (lock, journal, store, compiled jobs) and drives its steps.
public final class ProjectionRun {
    let options: RunOptions
    let logger: Logger
    let clock: any WallClock

    public init(options: RunOptions, logger: Logger, clock: any WallClock = SystemClock()) {
        self.options = options
        self.logger = logger
        self.clock = clock
    }

    /// Runs to completion (or to `--max-events`/`--max-seconds`) and reports what happened:
    /// stream the journal past the lowest checkpoint in batches, apply each batch with every job's
    /// checkpoint in one transaction, record what failed, notify.
    public func execute() throws(RunError) -> RunReport {
        if options.eventsTableName != nil {
            return try SegmentedRun(options: options, logger: logger).execute(watching: false)
        }
        let started = Monotonic.now()
        let startedAt = clock.now()
        let session = try Session(
            selectedJobs(withUpstreams: options.includeUpstreamJobs), options: options, logger: logger, clock: clock,
            startedAt: startedAt)
        if options.dryRun {
            try DryRun(session: session).count()
            return session.finishReport(started: started)
        }
        try session.beginRun(from: session.jobs.map(\.position).min() ?? 0)
        let alignment = JobAlignment(session: session)
        let retries = Retries(session: session)
        try alignment.initializeNewRefreshJobs()
        alignment.alignDependentJobs()
        try retries.retryDue()
        try stream(session, started: started)
        try retries.retryDue(onlyWaiting: true)
        alignment.warnAboutSetupDrift()
        try Notifier(session: session).notifyAndDeliver()
        session.report.failures = session.ledger.failedAttempts
        session.report.recovered = session.ledger.recovered
        let report = session.finishReport(started: started)
        try session.finishRun(
            to: report.toPosition, events: report.events, rejects: report.rejects, failures: report.failures,
            outcome: report.outcome)
        return report
    }

    private func stream(_ session: Session, started: Double) throws(RunError) {
        let end = session.report.journalEnd
        guard let from = session.jobs.map(\.position).min(), from < end else { return }
        let loop = BatchLoop(
            session: session, jobs: session.jobs.map(\.definition),
            sizing: .adaptive(maxEvents: options.batchEvents, milliseconds: options.batchMilliseconds),
            stops: BatchLoop.Stops(signals: true, maxSeconds: options.maxSeconds, maxEvents: options.maxEvents))
        let applier = BatchApplier(session: session)
        session.report.stoppedEarly = try loop.run(from: from, to: end, started: started) {
            (batch) throws(RunError) in
            try applier.apply(batch)
            options.progress?(
                RunProgress(
                    from: from, position: batch.end, end: end, events: session.report.events,
                    seconds: Monotonic.now() - started))
        }
    }

    /// Parses every job, runs its `@setup` and prepares every statement against the database in a
    /// transaction that is rolled back, so a typo in a column name is caught before a run.
    /// Returns the jobs in the order a run would apply them.
    public func validate() throws(RunError) -> [JobDefinition] {
        let prepared = try PreparedJobs.prepare(selectedJobs(), options: options, logger: logger, purpose: .inspect)
        // The events table a run would read must be there, or the run would stop at once (78).
        try StoreOpening.requireEventsTable(options, in: prepared.store)
        setupDrift = prepared.jobs.flatMap { prepared.store.setupDrift(of: $0.definition) }
        return prepared.jobs.map(\.definition)
    }

    /// Objects of the jobs' tables that differ from what their `@setup` creates today (found by
    /// `validate`), such as a trigger removed from `@setup` but still in the database.
    public private(set) var setupDrift: [SetupDriftFinding] = []

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
        let session = try Session(catalog, options: options, logger: logger, clock: clock, startedAt: clock.now())
        try session.beginRun(from: from ?? 0)
        let state = session.jobs[0]
        let replay = Replay(session: session, state: state)
        let applied: Int
        do throws(RunError) {
            switch definition.mode {
            case .refresh: applied = try replay.refresh(keys: keys, from: from)
            case .apply: applied = try replay.apply(keys: Set(keys), from: from)
            }
        } catch {
            try? session.finishRun(to: state.position, events: 0, rejects: 0, failures: 1, outcome: .failures)
            throw error
        }
        try Notifier(session: session).notifyAndDeliver()
        try session.finishRun(to: state.position, events: 0, rejects: 0, failures: 0, outcome: .caughtUp)
        return applied
    }

    /// The jobs named by `--jobs` (all when none), with the jobs they depend on when asked.
    func selectedJobs(withUpstreams: Bool = false) throws(RunError) -> JobCatalog {
        let catalog = try JobLoader.load(directory: options.jobsDirectory)
        try options.checkEndpointJobs(catalog)
        guard let names = options.selectedJobs else { return catalog }
        let (selected, unknown) = catalog.selecting(names)
        if !unknown.isEmpty { throw .unknownJobs(unknown, known: catalog.jobs.map(\.name)) }
        guard withUpstreams else { return selected }
        let closed = catalog.closingOverUpstreams(names)
        let added = closed.filter { !names.contains($0) }
        if !added.isEmpty {
            logger.notice(
                "also running the jobs the selected ones depend on (after:)",
                metadata: ["jobs": "\(added.joined(separator: ", "))"])
        }
        return catalog.selecting(closed).0
    }
}
