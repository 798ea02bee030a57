import Foundation
import Journal
public import Logging
import PostgresClient
import PostgresStore
import ProjectorCore
import Webhooks

/// `projector rebuild JOB` without downtime (SPEC §6): the job's read model is built from scratch
/// in a database of its own (resumable after a crash), then swapped in with one transaction, so
/// readers see the old model until the commit and the whole new one after it. The job then
/// continues from where the build stopped.
public struct Rebuild {
    let options: RunOptions
    let logger: Logger
    let clock: any WallClock

    public init(options: RunOptions, logger: Logger, clock: any WallClock = SystemClock()) {
        self.options = options
        self.logger = logger
        self.clock = clock
    }

    public struct Report: Codable, Sendable {
        public var job: String
        /// Events of the job's types the build applied or refreshed keys for (not every line read).
        public var events: Int
        public var keys: Int
        public var position: Int
        public var tables: [String]
        public var seconds: Double
    }

    /// The scratch database a job is rebuilt into (on PostgreSQL, the schema of its tables).
    public func scratchPath(_ job: String) -> String {
        if options.postgresConnection != nil {
            return (PGRunnerSchema(options.postgresSchema) ?? .standard).rebuild(of: job)
        }
        return options.databasePath + ".rebuild-\(job).db"
    }

    /// Builds every named job in its scratch database, then swaps each in.
    public func execute(jobs: [String]) throws(RunError) -> [Report] {
        var reports: [Report] = []
        for job in jobs {
            let started = Monotonic.now()
            let lock = try scratchLock(job)
            defer { withExtendedLifetime(lock) {} }
            let build = try buildScratch(job: job)
            if build.stoppedEarly { throw .interrupted(job: job, position: build.toPosition) }
            var report = try swap(job: job, build: build)
            report.seconds = Monotonic.now() - started
            reports.append(report)
            logger.info(
                "rebuilt", metadata: ["job": "\(job)", "events": "\(report.events)", "keys": "\(report.keys)"])
        }
        return reports
    }

    /// Phase 1: a projection run of this job alone into an empty scratch database, with the live
    /// database attached read-only (so the job may read other jobs' tables). Rerunning after a
    /// crash continues the same build.
    func buildScratch(job: String) throws(RunError) -> RunReport {
        let catalog = try JobLoader.load(directory: options.jobsDirectory)
        guard let definition = catalog[job] else {
            throw .unknownJobs([job], known: catalog.jobs.map(\.name))
        }
        let scratch = scratchPath(job)
        // A job that replays history (apply, or refresh without @keys) cannot be built once the
        // journal's start was pruned: say so before leaving a scratch database behind.
        if definition.mode == .apply || definition.keys == nil,
            let start = try? Journal.opened(options.journalPath).start, start > 0
        {
            try discardScratch(job)
            throw .historyPruned(job: job, start: start)
        }
        if try scratchExists(job) {
            let stale: Bool
            do throws(RunError) {
                stale =
                    try scratchFingerprint(job).map {
                        !definition.matchesFingerprint($0)
                    } ?? false
            } catch {
                stale = true
            }
            if stale {
                logger.info("discarding a rebuild of an older definition", metadata: ["job": "\(job)"])
                try discardScratch(job)
            } else {
                logger.info("resuming an interrupted rebuild", metadata: ["job": "\(job)"])
            }
        }
        var scratchOptions = options
        if options.postgresConnection != nil {
            // The build runs in the job's rebuild schemas of the same database, where the other
            // jobs' tables and the write model stay reachable through the search path. It takes no
            // run lock (runs go on meanwhile); the swap does.
            scratchOptions.postgresRebuildJob = job
            scratchOptions.lockHeld = true
        } else {
            scratchOptions.databasePath = scratch
            if FileSystem.exists(options.databasePath) {
                // Other jobs' tables stay readable during the build (a first rebuild has none yet).
                do throws(StoreError) {
                    try Stores.checkReadable(options.databasePath)
                } catch {
                    throw RunError.opening(error, what: "the database", path: options.databasePath)
                }
                scratchOptions.attachments.append(
                    Attachment(name: Stores.liveAttachmentName, path: options.databasePath))
            }
            scratchOptions.lockHeld = false
        }
        scratchOptions.selectedJobs = [job]
        scratchOptions.includeUpstreamJobs = false
        scratchOptions.notifiesConsumers = false
        scratchOptions.endpoints = []
        scratchOptions.maxEvents = nil
        scratchOptions.maxSeconds = nil
        // The build re-reads lines whose rejects the runs already reported: only its errors (a key
        // that fails) are worth a log line here.
        var buildLogger = logger
        if buildLogger.logLevel < .error { buildLogger.logLevel = .error }
        return try ProjectionRun(options: scratchOptions, logger: buildLogger, clock: clock).execute()
    }

    /// Phase 2: one transaction on the live database replaces the job's tables (definition, rows,
    /// indexes, triggers), its checkpoint, failures and held events, and queues a notification.
    func swap(job: String, build: RunReport) throws(RunError) -> Report {
        let lock = options.lockHeld ? nil : try RunLock(options: options, wait: true, logger: logger)
        defer { withExtendedLifetime(lock) {} }
        let scratch = scratchPath(job)
        var report = Report(
            job: job, events: build.jobs.first?.events ?? 0, keys: build.jobs.first?.executions ?? 0, position: 0,
            tables: [], seconds: 0)
        let definition = try JobLoader.load(directory: options.jobsDirectory)[job]
        let store = try StoreOpening.open(options, for: .write)
        let clock = clock
        let endpoints = definition.map { definition in options.endpoints.filter { $0.wants(definition) } } ?? []
        do throws(StoreError) {
            try store.transaction { () throws(StoreError) in try store.createSchema() }
            let swapped = try store.swapIn(job: job, scratchPath: scratch) { (position) throws(StoreError) in
                guard !endpoints.isEmpty else { return }
                let now = clock.now()
                let disabled = try store.disabledEndpoints()
                let body = Notification(
                    job: job, runID: 0, fromPosition: 0, toPosition: position, events: build.jobs.first?.events ?? 0,
                    keys: [], keysTotal: report.keys, failures: build.failures, truncated: report.keys > 0,
                    timestamp: now, type: "projection.rebuilt"
                ).body
                let id = Notification.newID()
                for endpoint in endpoints {
                    try store.enqueue(
                        messageID: id, endpoint: endpoint.name, job: job, runID: 0, body: body, now: now,
                        state: disabled.contains(endpoint.name) ? .disabled : .pending)
                }
            }
            report.tables = swapped.tables
            report.position = swapped.position
            if options.deliverWebhooks && !options.endpoints.isEmpty {
                _ = try WebhookDispatcher(store: store, endpoints: options.endpoints, clock: clock, logger: logger)
                    .deliverDue(budget: options.webhookBudget)
            }
        } catch {
            throw RunError.from(error)
        }
        if options.postgresConnection == nil { Self.remove(scratch) }
        return report
    }

    /// On PostgreSQL, the advisory lock of `job`'s scratch schemas, on a connection of its own
    /// (nil on SQLite, where the scratch build's run lock does this): a second rebuild or verify
    /// of the job meanwhile exits 75 instead of building into the same schemas.
    func scratchLock(_ job: String) throws(RunError) -> PGConnection? {
        guard let conninfo = options.postgresConnection else { return nil }
        let schema = try StoreOpening.runnerSchema(options.postgresSchema)
        try Self.checkScratchName(job, schema: schema)
        let connection = try StoreOpening.connect(conninfo)
        do throws(PGError) {
            if try PGStore.tryLockRebuild(of: job, runnerSchema: schema, connection: connection) { return connection }
        } catch {
            throw StoreOpening.postgresError(error, conninfo: conninfo)
        }
        throw .lockHeld(
            path: "(the PostgreSQL advisory lock of \(schema.rebuild(of: job)))",
            holder: "another rebuild or verify of \(job)", waited: nil)
    }

    /// On PostgreSQL a job's scratch schemas are named after it: a name too long for them is refused.
    static func checkScratchName(_ job: String, schema: PGRunnerSchema) throws(RunError) {
        guard job.utf8.count > schema.longestScratchJobName else { return }
        throw .configuration(
            "job '\(job)': on PostgreSQL, rebuild and verify need a job name of at most "
                + "\(schema.longestScratchJobName) bytes (its scratch schemas, \(schema.rebuilding(of: "<job>")), are "
                + "named after it); rename the job file"
        )
    }

    /// Whether an earlier build of `job` left its scratch store behind.
    func scratchExists(_ job: String) throws(RunError) -> Bool {
        guard let conninfo = options.postgresConnection else { return FileSystem.exists(scratchPath(job)) }
        return try onPostgres(conninfo) { (store) throws(StoreError) in try store.hasRebuild(of: job) }
    }

    /// The fingerprint of `job`'s checkpoint in its scratch store (nil: none yet).
    func scratchFingerprint(_ job: String) throws(RunError) -> String? {
        guard let conninfo = options.postgresConnection else {
            return try Session.storeCall { () throws(StoreError) in
                try Stores.scratchFingerprint(at: scratchPath(job), job: job)
            }
        }
        return try onPostgres(conninfo) { (store) throws(StoreError) in try store.rebuildFingerprint(of: job) }
    }

    /// Removes what a build of `job` left behind.
    func discardScratch(_ job: String) throws(RunError) {
        guard let conninfo = options.postgresConnection else { return Self.remove(scratchPath(job)) }
        try onPostgres(conninfo) { (store) throws(StoreError) in try store.discardRebuild(of: job) }
    }

    /// Runs `body` on a store of the live PostgreSQL database at `conninfo`.
    @discardableResult
    func onPostgres<T>(_ conninfo: String, _ body: (PGStore) throws(StoreError) -> T) throws(RunError) -> T {
        let store = try StoreOpening.postgresStore(conninfo, schema: options.postgresSchema)
        return try Session.storeCall { () throws(StoreError) in try body(store) }
    }

    static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }
}
