import Foundation
import Journal
public import Logging
import ProjectorCore
import SQLiteStore
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

    /// The scratch database a job is rebuilt into.
    public func scratchPath(_ job: String) -> String { options.databasePath + ".rebuild-\(job).db" }

    /// Builds every named job in its scratch database, then swaps each in.
    public func execute(jobs: [String]) throws(RunError) -> [Report] {
        var reports: [Report] = []
        for job in jobs {
            let started = Monotonic.now()
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
            Self.remove(scratch)
            throw .historyPruned(job: job, start: start)
        }
        if ProjectionRun.exists(scratch) {
            let stale: Bool
            do {
                let db = try Database(path: scratch)
                let rows = try db.rows("SELECT fingerprint FROM projector_checkpoints WHERE job = ?", [.text(job)])
                stale = !(rows.isEmpty || definition.matchesFingerprint(rows[0][0].string ?? ""))
            } catch {
                stale = true
            }
            if stale {
                logger.info("discarding a rebuild of an older definition", metadata: ["job": "\(job)"])
                Self.remove(scratch)
            } else {
                logger.info("resuming an interrupted rebuild", metadata: ["job": "\(job)"])
            }
        }
        var scratchOptions = options
        scratchOptions.databasePath = scratch
        if ProjectionRun.exists(options.databasePath) {
            // Other jobs' tables stay readable during the build (a first rebuild has none yet).
            do throws(SQLiteError) {
                _ = try Database(path: options.databasePath).rows("SELECT count(*) FROM sqlite_master")
            } catch {
                throw RunError.opening(error, what: "the database", path: options.databasePath)
            }
            scratchOptions.attachments.append(Attachment(name: "projector_live", path: options.databasePath))
        }
        scratchOptions.selectedJobs = [job]
        scratchOptions.includeUpstreamJobs = false
        scratchOptions.notifiesConsumers = false
        scratchOptions.endpoints = []
        scratchOptions.lockHeld = false
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
        do throws(SQLiteError) {
            let db = try Database(path: options.databasePath)
            let store = RunnerStore(db: db)
            try store.createSchema()
            try store.createOutboxSchema()
            try db.run("ATTACH DATABASE ? AS projector_rebuild", [.text(scratch)])
            let objects = try db.rows(
                """
                SELECT type, name, tbl_name, sql FROM projector_rebuild.sqlite_master
                WHERE sql IS NOT NULL AND name NOT LIKE 'projector\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
                ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END
                """)
            let tables = objects.filter { $0[0].string == "table" }.compactMap { $0[1].string }
            report.tables = tables
            try db.execute("BEGIN IMMEDIATE")
            do throws(SQLiteError) {
                for table in tables {
                    try db.execute("DROP TABLE IF EXISTS main.\(Self.quote(table))")
                }
                for object in objects {
                    guard let sql = object[3].string else { continue }
                    try db.execute(sql)
                    if object[0].string == "table", let table = object[1].string {
                        try db.execute(
                            "INSERT INTO main.\(Self.quote(table)) SELECT * FROM projector_rebuild.\(Self.quote(table))"
                        )
                    }
                }
                for table in [
                    "projector_checkpoints", "projector_failures", "projector_held_events", "projector_failure_waits",
                ] {
                    try db.run("DELETE FROM main.\(table) WHERE job = ?", [.text(job)])
                    try db.run(
                        "INSERT INTO main.\(table) SELECT * FROM projector_rebuild.\(table) WHERE job = ?", [.text(job)]
                    )
                }
                report.position =
                    try db.rows("SELECT position FROM main.projector_checkpoints WHERE job = ?", [.text(job)]).first?
                    .first?.int ?? 0
                let now = clock.now()
                if let definition {
                    let disabled = try store.disabledEndpoints()
                    let body = Notification(
                        job: job, runID: 0, fromPosition: 0, toPosition: report.position,
                        events: build.jobs.first?.events ?? 0,
                        keys: [], keysTotal: report.keys, failures: build.failures, truncated: report.keys > 0,
                        timestamp: now, type: "projection.rebuilt"
                    ).body
                    let id = ProjectionRun.messageID()
                    for endpoint in options.endpoints where endpoint.wants(definition) {
                        try store.enqueue(
                            messageID: id, endpoint: endpoint.name, job: job, runID: 0, body: body, now: now,
                            state: disabled.contains(endpoint.name) ? "disabled" : "pending")
                    }
                }
                try db.execute("COMMIT")
            } catch {
                try? db.execute("ROLLBACK")
                throw error
            }
            try db.execute("DETACH DATABASE projector_rebuild")
            if options.deliverWebhooks && !options.endpoints.isEmpty {
                _ = try WebhookDispatcher(store: store, endpoints: options.endpoints, clock: clock, logger: logger)
                    .deliverDue(budget: options.webhookBudget)
            }
        } catch {
            throw RunError.from(error)
        }
        Self.remove(scratch)
        return report
    }

    static func quote(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }
}
