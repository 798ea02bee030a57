import Journal
public import Logging
public import ProjectorCore
public import SQLiteStore
import Webhooks

/// One `projector run` (SPEC §4): lock, open, stream the journal past the lowest checkpoint in
/// batches, apply each batch with every job's checkpoint in one transaction, record what failed.
public final class ProjectionRun {
    let options: RunOptions
    var logger: Logger
    let clock: any WallClock

    var db: Database!
    var store: RunnerStore!
    var journal: Journal!
    var states: [JobState] = []
    var failures: [FailureKey: FailureRecord] = [:]
    var report: RunReport
    var runID = 0
    var checkpoints: [String: Checkpoint] = [:]
    var validateOnly = false

    public init(options: RunOptions, logger: Logger, clock: any WallClock = SystemClock()) {
        self.options = options
        self.logger = logger
        self.clock = clock
        report = RunReport(
            runID: 0, dryRun: options.dryRun, startedAt: 0, duration: 0, fromPosition: 0, toPosition: 0,
            journalEnd: 0, events: 0, rejects: 0, failures: 0, recovered: 0, batches: 0, jobs: [], stoppedEarly: false
        )
    }

    /// A job's state during the run.
    final class JobState {
        let compiled: CompiledJob
        var position: Int
        var report: JobReport
        /// Webhook endpoints notified of this job's work.
        let endpoints: [String]
        /// The jobs this one reads from (`after:`, transitively).
        let upstreams: Set<String>
        /// The fingerprint its checkpoints keep: the definition's, or, when the job changed since its
        /// read model was built, the stored one, so that `status` goes on saying a rebuild is due
        /// until one is done.
        var checkpointFingerprint: String
        var definition: JobDefinition { compiled.definition }

        init(compiled: CompiledJob, position: Int, endpoints: [String], upstreams: Set<String> = []) {
            self.compiled = compiled
            self.position = position
            self.endpoints = endpoints
            self.upstreams = upstreams
            checkpointFingerprint = compiled.definition.fingerprint
            report = JobReport(
                name: compiled.definition.name, mode: compiled.definition.mode.rawValue, fromPosition: position,
                toPosition: position
            )
        }
    }

    /// Runs to completion (or to `--max-events`/`--max-seconds`) and reports what happened.
    public func execute() throws(RunError) -> RunReport {
        let started = Monotonic.now()
        report.startedAt = clock.now()
        let catalog = try selectedJobs(withUpstreams: options.includeUpstreamJobs)
        let lock =
            options.dryRun || options.lockHeld ? nil : try RunLock(options: options, logger: logger)
        defer { withExtendedLifetime(lock) {} }
        journal = try openJournal()
        try openDatabase()
        try prepareJobs(catalog)
        try verifyCheckpoints()
        report.journalEnd = try journalCall { () throws(JournalError) in try journal.lastLineBoundary() }
        if options.dryRun {
            try dryRun()
        } else {
            try sqlite { () throws(SQLiteError) in
                runID = try store.beginRun(now: clock.now(), from: states.map(\.position).min() ?? 0)
            }
            report.runID = runID
            logger[metadataKey: "run_id"] = "\(runID)"
            try initializeNewRefreshJobs()
            alignDependentJobs()
            try retryDueFailures()
            try stream(started: started)
            try retryDueFailures(onlyWaiting: true)
            warnAboutSetupDrift()
            try notifyAndDeliver()
        }
        report.jobs = states.map(\.report)
        report.toPosition = states.map(\.position).min() ?? report.journalEnd
        report.fromPosition = states.map(\.report.fromPosition).min() ?? 0
        report.duration = Monotonic.now() - started
        report.peakMemoryBytes = PeakMemory.bytes()
        if !options.dryRun {
            try sqlite { () throws(SQLiteError) in
                try store.finishRun(
                    id: runID, now: clock.now(), to: report.toPosition, events: report.events, rejects: report.rejects,
                    failures: report.failures, outcome: report.outcome.isClean ? "ok" : "failures",
                    exitCode: options.exitCode?(report.outcome)
                )
            }
        }
        return report
    }

    /// Parses every job, runs its `@setup` and prepares every statement against the database in a
    /// transaction that is rolled back, so a typo in a column name is caught before a run.
    /// Returns the jobs in the order a run would apply them.
    public func validate() throws(RunError) -> [JobDefinition] {
        validateOnly = true
        let catalog = try selectedJobs()
        try openDatabase()
        try prepareJobs(catalog)
        setupDrift = states.flatMap { SetupDrift.findings(for: $0.definition, in: db) }
        return states.map(\.definition)
    }

    /// Objects of the jobs' tables that differ from what their `@setup` creates today (found by
    /// `validate`), such as a trigger removed from `@setup` but still in the database.
    public private(set) var setupDrift: [SetupDrift.Finding] = []

    // MARK: Setting up

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

    func openJournal() throws(RunError) -> Journal {
        try Journal.opened(options.journalPath)
    }

    func openDatabase() throws(RunError) {
        let directory = Self.directory(of: options.databasePath)
        // Validation and dry runs use an empty in-memory database when there is none yet (before a
        // unit's first start has created its state directory, for one).
        guard Self.exists(directory) || options.dryRun || validateOnly else {
            throw .missingPath(what: "the database's directory", path: directory)
        }
        for attachment in options.attachments where !Self.exists(attachment.path) {
            throw .missingPath(what: "the attached database '\(attachment.name)'", path: attachment.path)
        }
        var databaseOptions = Database.Options()
        databaseOptions.busyTimeoutMilliseconds = options.busyTimeoutMilliseconds
        databaseOptions.synchronous = options.synchronous
        // A dry run writes nothing, not even a new database file.
        let path =
            (options.dryRun || validateOnly) && !Self.exists(options.databasePath) ? ":memory:" : options.databasePath
        // Even a dry run or a validation writes (in a transaction it rolls back): say so before
        // SQLite reports "attempt to write a readonly database" halfway through.
        if path != ":memory:", let reason = RunError.writeProblem(databasePath: path) {
            throw .notWritable(what: "the database", path: path, reason: reason)
        }
        // `validate` before the first run: the database will be created in its directory, which
        // may not exist yet (made by the unit's StateDirectory=), but when it does, the run's
        // user must be able to write there.
        if validateOnly, path == ":memory:", Self.exists(Self.directory(of: options.databasePath)),
            let reason = RunError.writeProblem(databasePath: options.databasePath)
        {
            throw .notWritable(what: "the database", path: options.databasePath, reason: reason)
        }
        do throws(SQLiteError) {
            db = try Database(path: path, options: databaseOptions)
        } catch {
            throw RunError.opening(error, what: "the database", path: path)
        }
        for attachment in options.attachments {
            let uri = "file:" + Self.uriEscape(attachment.path) + (attachment.readOnly ? "?mode=ro" : "")
            do throws(SQLiteError) {
                try db.run("ATTACH DATABASE ? AS \"\(attachment.name)\"", [.text(uri)])
                // ATTACH does not read the file: a query does, and tells a non-database apart.
                _ = try db.rows("SELECT count(*) FROM \"\(attachment.name)\".sqlite_master")
            } catch {
                throw RunError.opening(error, what: "the attached database '\(attachment.name)'", path: attachment.path)
            }
        }
        store = RunnerStore(db: db)
    }

    /// Creates the runner's tables, runs every job's `@setup`, prepares its statements and checks
    /// its checkpoint against the journal. A dry run does the same in a transaction it rolls back.
    func prepareJobs(_ catalog: JobCatalog) throws(RunError) {
        var checkpoints: [String: Checkpoint] = [:]
        var errors: [JobFileError] = []
        let transactionOnly = options.dryRun || validateOnly
        // Job file errors leave the transaction (rolled back) and are reported together.
        func prepare() throws(SQLiteError) {
            try db.execute("BEGIN IMMEDIATE")
            defer { if db.isInTransaction { try? db.execute("ROLLBACK") } }
            try store.createSchema()
            try store.createOutboxSchema()
            let configured = Set(options.endpoints.map(\.name))
            for job in catalog.jobs {
                for name in job.webhooks where !configured.contains(name) {
                    if configured.isEmpty {
                        guard options.notifiesConsumers else { continue }
                        logger.warning(
                            "job names a webhook endpoint but no endpoint is configured; no notification is sent",
                            metadata: ["job": "\(job.name)", "endpoint": "\(name)"])
                    } else {
                        errors.append(
                            JobFileError(
                                file: job.file, line: job.line(ofWebhook: name),
                                message: "'webhooks:' names '\(name)', which is not a configured endpoint"))
                    }
                }
                do {
                    try CompiledJob.setup(job, db: db)
                } catch {
                    errors += error.errors
                }
            }
            if !errors.isEmpty { return }
            checkpoints = try store.checkpoints()
            failures = try store.openFailures(jobs: catalog.jobs.map(\.name))
            for definition in catalog.jobs {
                do {
                    let compiled = try CompiledJob(definition, db: db)
                    let endpoints = options.endpoints.filter { $0.wants(definition) }.map(\.name)
                    states.append(
                        JobState(
                            compiled: compiled, position: checkpoints[definition.name]?.position ?? 0,
                            endpoints: endpoints, upstreams: catalog.upstreams(of: definition.name)))
                } catch {
                    errors += error.errors
                }
            }
            if !errors.isEmpty { return }
            if !transactionOnly { try db.execute("COMMIT") }
        }
        try sqlite { () throws(SQLiteError) in try prepare() }
        if !errors.isEmpty { throw .jobs(JobFileErrors(errors)) }
        self.checkpoints = checkpoints
    }

    /// Checks each job's checkpoint against the journal: the bytes before it must be those it read.
    func verifyCheckpoints() throws(RunError) {
        for state in states {
            let definition = state.definition
            if let checkpoint = checkpoints[definition.name] {
                try journalCall { () throws(JournalError) in
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

    // MARK: New refresh jobs

    /// A new refresh job with `@keys` does not replay history: it records the journal's end,
    /// refreshes every key, and continues from there (SPEC §3).
    func initializeNewRefreshJobs() throws(RunError) {
        let checkpoints = try sqlite { () throws(SQLiteError) in try store.checkpoints() }
        for state in states where checkpoints[state.definition.name] == nil && state.definition.keys != nil {
            let end = report.journalEnd
            let anchor = try journalCall { () throws(JournalError) in try journal.anchor(at: end) }
            let keys = try sqlite { () throws(SQLiteError) in try state.compiled.allKeys() }
            logger.info(
                "new refresh job: refreshing every key instead of replaying history",
                metadata: ["job": "\(state.definition.name)", "keys": "\(keys.count)", "position": "\(end)"]
            )
            // Rows left by an earlier, interrupted initialization may belong to keys that no longer
            // exist: the job's tables start empty (it has no checkpoint, so nothing relies on them).
            let tables = CompiledJob.tablesCreated(by: state.definition)
            var index = 0
            repeat {
                let chunk = keys[index..<min(keys.count, index + options.batchEvents)]
                let first = index == 0
                try transaction { () throws(SQLiteError) in
                    if first {
                        for table in tables {
                            try db.execute("DELETE FROM main.\(Rebuild.quote(table))")
                        }
                    }
                    let failuresBefore = state.report.failures
                    var refreshed: [String] = []
                    for key in chunk where try refresh(state, key: key, firstPosition: end, lastPosition: end) {
                        refreshed.append(key)
                    }
                    if !state.endpoints.isEmpty {
                        try store.accumulate(
                            job: state.definition.name, from: end, to: end, events: 0, keys: refreshed,
                            failures: state.report.failures - failuresBefore)
                    }
                    if index + chunk.count >= keys.count {
                        try store.saveCheckpoint(
                            job: state.definition.name, anchor: anchor, fingerprint: state.definition.fingerprint,
                            eventsAdded: 0, now: clock.now()
                        )
                    }
                }
                index += chunk.count
            } while index < keys.count
            state.position = end
            state.report.fromPosition = end
            state.report.toPosition = end
            state.report.initialized = true
        }
    }

    // MARK: Streaming

    func stream(started: Double) throws(RunError) {
        guard let from = states.map(\.position).min(), from < report.journalEnd else { return }
        let cursor = try journalCall { () throws(JournalError) in
            try journal.cursor(from: from, limit: report.journalEnd, maxLineBytes: options.maxLineBytes)
        }
        var builder = BatchBuilder(jobs: states.map(\.definition), maxDepth: options.maxDepth)
        let batch = Batch(capacity: min(options.batchBytes, 1 << 20))
        var sizer = BatchSizer(maxEvents: options.batchEvents, target: options.batchMilliseconds / 1000)
        while true {
            if options.shouldStop?() == true {
                report.stoppedEarly = cursor.position < report.journalEnd
                logger.notice(
                    "stopping after the batch in flight, as asked", metadata: ["position": "\(cursor.position)"])
                return
            }
            if let maxSeconds = options.maxSeconds, Monotonic.now() - started >= maxSeconds {
                report.stoppedEarly = cursor.position < report.journalEnd
                return
            }
            var limit = sizer.size
            if let maxEvents = options.maxEvents {
                let left = maxEvents - report.events
                if left <= 0 {
                    report.stoppedEarly = cursor.position < report.journalEnd
                    return
                }
                limit = min(limit, left)
            }
            let readStart = Monotonic.now()
            let more = try journalCall { () throws(JournalError) in
                try builder.fill(batch, from: cursor, maxEvents: limit, maxBytes: options.batchBytes)
            }
            report.timings.readDecode += Monotonic.now() - readStart
            if batch.isEmpty { return }
            let transactionStart = Monotonic.now()
            let anchor = try journalCall { () throws(JournalError) in try journal.anchor(at: batch.end) }
            try sqlite { () throws(SQLiteError) in
                let begin = Monotonic.now()
                try db.execute("BEGIN IMMEDIATE")
                report.timings.commit += Monotonic.now() - begin
                do throws(SQLiteError) {
                    let work = Monotonic.now()
                    let grouping = report.timings.group
                    try process(batch, anchor: anchor)
                    report.timings.sql += Monotonic.now() - work - (report.timings.group - grouping)
                    let commit = Monotonic.now()
                    try db.execute("COMMIT")
                    report.timings.commit += Monotonic.now() - commit
                } catch {
                    try? db.execute("ROLLBACK")
                    throw error
                }
            }
            let elapsed = (Monotonic.now() - transactionStart) * 1000
            sizer.record(events: batch.events.count, seconds: elapsed / 1000)
            report.batches += 1
            report.events += batch.events.count
            options.progress?(
                RunProgress(
                    from: from, position: batch.end, end: report.journalEnd, events: report.events,
                    seconds: Monotonic.now() - started))
            logger.debug(
                "batch committed",
                metadata: [
                    "events": "\(batch.events.count)", "to": "\(batch.end)", "ms": "\(Int(elapsed))",
                    "next_batch": "\(sizer.size)",
                ]
            )
            if !more { return }
        }
    }

    /// Applies one batch inside the current transaction: rejects, de-duplication, every job, checkpoints.
    func process(_ batch: Batch, anchor: CursorAnchor) throws(SQLiteError) {
        let now = clock.now()
        // A reject is reported once: a line re-read for a new or lagging job was counted before.
        for reject in batch.rejects {
            guard try store.recordReject(reject, runID: runID, now: now) else { continue }
            report.rejects += 1
            logger.warning(
                "line rejected",
                metadata: ["position": "\(reject.position)", "reason": "\(reject.reason)"]
            )
        }
        for (job, reject) in batch.jobRejects where reject.position >= states[job].position {
            guard try store.recordReject(reject, runID: runID, now: now) else { continue }
            states[job].report.rejects += 1
            report.rejects += 1
            logger.warning(
                "event rejected by job", metadata: ["position": "\(reject.position)", "reason": "\(reject.reason)"])
        }
        let active = states.indices.filter { states[$0].position < batch.end }
        let duplicates = try findDuplicates(batch, active: active)
        var groupStart = Monotonic.now()
        var perJob = [[Int]](repeating: [], count: states.count)
        for (index, keyed) in batch.keyed.enumerated() { perJob[Int(keyed.job)].append(index) }
        report.timings.group += Monotonic.now() - groupStart
        // Events whose key failed in a job that later jobs read from (`after:`).
        var taint: [Int32: [FailureKey]] = [:]

        for job in active {
            let state = states[job]
            let position = state.position
            let failuresBefore = state.report.failures
            let duplicatesBefore = state.report.duplicates
            var batchKeys: [String] = []
            var worked: [String] = []
            groupStart = Monotonic.now()
            let mine = perJob[job].filter { batch.events[Int(batch.keyed[$0].event)].position >= position }
            switch state.definition.mode {
            case .refresh:
                var range: [String: (Int, Int)] = [:]
                var waits: [String: Set<FailureKey>] = [:]
                for index in mine {
                    let keyed = batch.keyed[index]
                    let p = batch.events[Int(keyed.event)].position
                    if let r = range[keyed.key] { range[keyed.key] = (r.0, p) } else { range[keyed.key] = (p, p) }
                    if !taint.isEmpty {
                        waits[keyed.key, default: []].formUnion(self.waits(of: state, event: keyed.event, taint: taint))
                    }
                }
                batchKeys = EventBinder.sorted(range.keys)
                report.timings.group += Monotonic.now() - groupStart
                for key in batchKeys {
                    let (first, last) = range[key] ?? (position, position)
                    let open = failures.isEmpty ? [] : openWaits(state, key: key, new: waits[key] ?? [])
                    if !open.isEmpty {
                        try recordWait(state, key: key, first: first, last: last, waits: open)
                        continue
                    }
                    if try refresh(state, key: key, firstPosition: first, lastPosition: last) { worked.append(key) }
                }
            case .apply:
                var groups: [String: [Int32]] = [:]
                for index in mine {
                    let keyed = batch.keyed[index]
                    if duplicates.contains(keyed.event) {
                        state.report.duplicates += 1
                        continue
                    }
                    groups[keyed.key, default: []].append(keyed.event)
                }
                batchKeys = EventBinder.sorted(groups.keys)
                report.timings.group += Monotonic.now() - groupStart
                for key in batchKeys {
                    if try apply(state, key: key, events: groups[key] ?? [], batch: batch, taint: taint) {
                        worked.append(key)
                    }
                }
            }
            markFailingEvents(of: state, indices: mine, batch: batch, into: &taint)
            // Counted: the events this job matched (not every line read), and the keys it did work for.
            let matched = Self.distinctEvents(mine, in: batch)
            state.report.events += matched
            try store.saveCheckpoint(
                job: state.definition.name, anchor: anchor, fingerprint: state.checkpointFingerprint,
                eventsAdded: matched - (state.report.duplicates - duplicatesBefore),
                now: now
            )
            if !state.endpoints.isEmpty {
                try store.accumulate(
                    job: state.definition.name, from: max(position, batch.start), to: batch.end, events: matched,
                    keys: worked, failures: state.report.failures - failuresBefore)
            }
            state.position = batch.end
            state.report.toPosition = batch.end
        }
    }

    /// Events whose `id` appeared at an earlier position: apply jobs skip them (SPEC §3).
    func findDuplicates(_ batch: Batch, active: [Int]) throws(SQLiteError) -> Set<Int32> {
        let applyPositions = active.filter { states[$0].definition.mode == .apply }.map { states[$0].position }
        guard let lowest = applyPositions.min() else { return [] }
        var duplicates: Set<Int32> = []
        for (index, event) in batch.events.enumerated() where event.position >= lowest {
            guard let span = event.fields.id, event.fields.idKind != .null else { continue }
            let line = batch.line(event)
            let first: Int
            if span.escaped {
                first = try store.firstPosition(ofEventID: JSONText.decodeString(line, span), position: event.position)
            } else {
                first = try store.firstPosition(
                    ofEventID: UnsafeRawBufferPointer(start: line + span.start, count: span.count),
                    position: event.position
                )
            }
            if first < event.position { duplicates.insert(Int32(index)) }
        }
        return duplicates
    }

    /// How many events the keyed entries `indices` (in batch order) come from: an event keyed
    /// twice for one job counts once.
    static func distinctEvents(_ indices: [Int], in batch: Batch) -> Int {
        var count = 0
        var last: Int32 = -1
        for index in indices where batch.keyed[index].event != last {
            count += 1
            last = batch.keyed[index].event
        }
        return count
    }

    // MARK: Notifications

    /// In the run's last transaction, turns the work accumulated per job (in the transactions
    /// that committed it) into outbox rows; then delivers what is due, within the budget.
    func notifyAndDeliver() throws(RunError) {
        guard !options.endpoints.isEmpty else { return }
        let started = Monotonic.now()
        defer { report.timings.webhooks += Monotonic.now() - started }
        let byJob = Dictionary(states.map { ($0.definition.name, $0.endpoints) }, uniquingKeysWith: { a, _ in a })
        try transaction { () throws(SQLiteError) in
            let disabled = try store.disabledEndpoints()
            report.notificationsQueued = try store.emitNotifications(
                runID: runID, now: clock.now(), endpoints: { byJob[$0] ?? [] }, disabled: disabled,
                messageID: Self.messageID, body: \.body)
        }
        // Commands that sign nothing (replay, verify) leave the delivery to the next run.
        guard options.deliverWebhooks, options.endpoints.contains(where: { !$0.secrets.isEmpty }) else {
            if report.notificationsQueued > 0 {
                logger.notice(
                    "notification queued; the next run delivers it",
                    metadata: ["notifications": "\(report.notificationsQueued)"])
            }
            return
        }
        let dispatcher = WebhookDispatcher(store: store, endpoints: options.endpoints, clock: clock, logger: logger)
        report.deliveries = try sqlite { () throws(SQLiteError) in
            try dispatcher.deliverDue(budget: options.webhookBudget)
        }
    }

    /// A notification id: `msg_` and 24 random letters and digits (never a `.`).
    static func messageID() -> String { Notification.newID() }

    // MARK: Plumbing

    func transaction(_ body: () throws(SQLiteError) -> Void) throws(RunError) {
        try sqlite { () throws(SQLiteError) in try db.transaction { () throws(SQLiteError) in try body() } }
    }

    func sqlite<T>(_ body: () throws(SQLiteError) -> T) throws(RunError) -> T {
        do throws(SQLiteError) {
            return try body()
        } catch {
            throw RunError.from(error)
        }
    }

    func journalCall<T>(_ body: () throws(JournalError) -> T) throws(RunError) -> T {
        do throws(JournalError) {
            return try body()
        } catch {
            if case .notFound(let path) = error { throw .missingPath(what: "a journal file", path: path) }
            throw .journal(error)
        }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    static func uriEscape(_ path: String) -> String {
        var out = ""
        for c in path.unicodeScalars {
            switch c {
            case "?", "#", "%": out += "%" + String(c.value, radix: 16, uppercase: true)
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

#if canImport(Glibc)
    import Glibc
#endif
