import Foundation
import Logging
import PostgresClient
import PostgresStore
import ProjectorCore
import Webhooks

/// `projector run` on an events table (`--journal postgres:TABLE`, SPEC §10): any number of these
/// share the work through PostgreSQL's row locks. A job's keys are spread over
/// `PGStore.segmentCount` segments by a stable hash, and each (job, segment) has its checkpoint
/// row; a batch transaction locks the rows of the segments it will process (`FOR UPDATE SKIP
/// LOCKED`), reads them again after locking, applies the events past each, moves them and
/// commits. Ownership lasts one transaction: no clock, lease or pooler is trusted for correctness.
///
/// Which segments a runner tries (`SegmentPlacement`) only balances the load: runners heartbeat in
/// `projector.runners`, and each takes the segments whose rendezvous hash ranks it first among
/// the live ones. A runner whose connection is gone is dead at once; one that stopped
/// heartbeating (frozen) after `runnerTimeout` seconds. Its sessions time out when idle inside a
/// transaction, so a frozen runner cannot keep its rows locked.
final class SegmentedRun {
    let options: RunOptions
    let logger: Logger
    let table: PGEventsTable
    let name: String
    let host: String
    /// Seconds without a heartbeat after which a runner whose connection is still there is dead.
    var runnerTimeout: Double { options.runnerTimeout }
    /// Seconds between heartbeats (and looks at who is alive).
    var heartbeatInterval: Double { min(1.0, options.runnerTimeout / 4) }
    /// Seconds a watching runner waits when it found nothing to do.
    var pollInterval = 0.2
    /// The most rows one transaction reads.
    var windowRows: Int
    /// A watch's textfile metrics, written every `metricsInterval` seconds with what was done since.
    var metrics: MetricsFile?
    var metricsInterval = 15.0

    init(options: RunOptions, logger: Logger) throws(RunError) {
        guard let tableName = options.eventsTableName else {
            throw .usage("the journal \(options.journalPath) is not an events table (postgres:TABLE)")
        }
        guard let table = PGEventsTable(tableName) else {
            throw .usage(
                "--journal postgres:\(tableName): the events table's name must be TABLE or SCHEMA.TABLE in lower-case "
                    + "letters, digits and _")
        }
        guard options.postgresConnection != nil else {
            throw .usage(
                "--journal postgres:\(tableName) reads an events table of a PostgreSQL database: give --database "
                    + "postgres://… (or a libpq connection string)")
        }
        if options.dryRun { throw .usage("--dry-run is not available on an events table") }
        self.options = options
        self.table = table
        let hostName = ProcessInfo.processInfo.hostName
        host = hostName
        name = options.runnerName ?? "\(hostName)-\(getpid())"
        var logger = logger
        logger[metadataKey: "runner"] = "\(name)"
        self.logger = logger
        windowRows = max(1, min(options.batchEvents, 5_000))
    }

    /// Runs until this runner's segments have nothing left (`watching`: until asked to stop,
    /// reconnecting while the server cannot be reached).
    func execute(watching: Bool) throws(RunError) -> RunReport {
        let started = Monotonic.now()
        var report = RunReport(
            runID: 0, dryRun: false, startedAt: SystemClock().now(), duration: 0, fromPosition: 0, toPosition: 0,
            journalEnd: 0, events: 0, rejects: 0, failures: 0, recovered: 0, batches: 0, jobs: [], stoppedEarly: false)
        while true {
            do throws(RunError) {
                try session(watching: watching, report: &report)
                break
            } catch {
                guard watching, !stopRequested else { throw error }
                switch error {
                case .databaseUnavailable, .databaseBusy:
                    logger.warning("database unreachable or busy; trying again", metadata: ["error": "\(error)"])
                    usleep(1_000_000)
                default: throw error
                }
            }
        }
        report.duration = Monotonic.now() - started
        report.peakMemoryBytes = PeakMemory.bytes()
        return report
    }

    var stopRequested: Bool { options.shouldStop?() == true }

    /// One connection's worth: prepare the jobs, register, then batches until done or stopped.
    private func session(watching: Bool, report: inout RunReport) throws(RunError) {
        let catalog = try ProjectionRun(options: options, logger: logger).selectedJobs(withUpstreams: true)
        let (prepared, store) = try preparedJobs(catalog)
        try StoreOpening.requireEventsTable(options, in: store)
        try Session.storeCall { () throws(StoreError) in
            try store.setRunnerTimeouts(idleInTransaction: max(2, Int(runnerTimeout.rounded(.up))), lockWait: 10)
        }
        let jobs = prepared.jobs
        if report.jobs.isEmpty {
            report.jobs = jobs.map {
                JobReport(name: $0.name, mode: $0.definition.mode.rawValue, fromPosition: 0, toPosition: 0)
            }
        }
        let runID = try Session.storeCall { () throws(StoreError) in
            try store.beginRun(now: SystemClock().now(), from: 0)
        }
        report.runID = runID
        var placement = SegmentPlacement(jobs: jobs.map(\.name), runner: name)
        store.claimsDeliveries = true
        let dispatcher =
            options.deliverWebhooks && options.endpoints.contains(where: { !$0.secrets.isEmpty })
            ? WebhookDispatcher(store: store, endpoints: options.endpoints, clock: SystemClock(), logger: logger) : nil
        var lastDelivery = -Double.infinity
        var lastMetrics = Monotonic.now()
        // The first batch writes the file at once, so that a runner just started shows in it.
        var metricsWritten = false
        var recorded = report
        let batches = SegmentedBatch(
            store: store, table: table, jobs: jobs, runner: name, runID: runID, retry: options.retry,
            maxDepth: options.maxDepth, logger: logger)
        var lastHeartbeat = -Double.infinity
        logger.notice(
            "reading the events table", metadata: ["table": "\(table)", "segments": "\(PGStore.segmentCount)"])
        let began = Monotonic.now()
        while !stopRequested {
            // --max-events and --max-seconds stop a one-shot run between batches, as on a journal.
            if !watching,
                report.events >= options.maxEvents ?? .max
                    || Monotonic.now() - began >= options.maxSeconds ?? .infinity
            {
                report.stoppedEarly = true
                break
            }
            if Monotonic.now() - lastHeartbeat >= heartbeatInterval {
                let live = try Session.storeCall { () throws(StoreError) -> [String] in
                    guard try store.heartbeat(runner: name, host: host) else { return [] }
                    return try store.liveRunners(timeout: runnerTimeout)
                }
                guard live.contains(name) else {
                    throw .lockHeld(
                        path: "(runner name \(name))", holder: "another live connection runs under that name",
                        waited: nil)
                }
                if placement.update(live: live) {
                    logger.info(
                        "segments placed",
                        metadata: ["runners": "\(live.count)", "mine": "\(placement.units.count)"])
                }
                lastHeartbeat = Monotonic.now()
            }
            let outcome = try batches.run(placement.units, windowRows: windowRows)
            report.events += outcome.events
            report.rejects += outcome.rejects
            report.failures += outcome.failures
            report.conflictRetries += outcome.conflicts
            if outcome.rows > 0 { report.batches += 1 }
            report.notificationsQueued += outcome.notifications
            // Due notifications, claimed so that each goes out from one runner at a time.
            if let dispatcher, outcome.notifications > 0 || Monotonic.now() - lastDelivery >= 1 {
                let delivered = try Session.storeCall { () throws(StoreError) in
                    try dispatcher.deliverDue(budget: options.webhookBudget)
                }
                report.deliveries.add(delivered)
                lastDelivery = Monotonic.now()
            }
            // Positions on an events table are the rows' `seq`.
            report.toPosition = max(report.toPosition, outcome.lastSeq)
            for (index, count) in outcome.eventsPerJob.enumerated() {
                report.jobs[index].events += count
                report.jobs[index].toPosition = report.toPosition
                report.jobs[index].executions = jobs[index].report.executions
            }
            if let metrics, watching, !metricsWritten || Monotonic.now() - lastMetrics >= metricsInterval {
                var since = report
                since.events -= recorded.events
                since.rejects -= recorded.rejects
                since.failures -= recorded.failures
                since.deliveries.subtract(recorded.deliveries)
                since.duration = Monotonic.now() - lastMetrics
                metrics.update(after: since, options: options, logger: logger, clock: SystemClock())
                recorded = report
                lastMetrics = Monotonic.now()
                metricsWritten = true
            }
            // Nothing read, or nothing that could move (every segment waits for another job's):
            // a one-shot run is done, a watch looks again shortly.
            if outcome.rows == 0 || outcome.moved == 0 {
                guard watching else { break }
                usleep(UInt32(pollInterval * 1_000_000))
            }
        }
        // A segment still stopped at a failing key (this run's, or an earlier run's waiting for its
        // retry) leaves its keys behind: the run did not catch up, whatever it applied.
        let names = jobs.map(\.name)
        report.failingSegments =
            (try? Session.storeCall { () throws(StoreError) in try store.failingSegments(of: names) }) ?? 0
        let final = report
        try? Session.storeCall { () throws(StoreError) in
            try store.finishRun(
                FinishedRun(
                    id: runID, finishedAt: SystemClock().now(), toPosition: 0, events: final.events,
                    rejects: final.rejects, failures: final.failures,
                    outcome: final.outcome.isClean ? "ok" : "failures",
                    exitCode: options.exitCode?(final.outcome)))
            try store.forgetRunners(named: name)
        }
    }

    /// The jobs prepared and the segment tables created, one runner at a time: runners starting
    /// together would otherwise run the same `CREATE TABLE IF NOT EXISTS` at once, which
    /// PostgreSQL does not serialise.
    private func preparedJobs(_ catalog: JobCatalog) throws(RunError) -> (PreparedJobs, PGStore) {
        guard let conninfo = options.postgresConnection else { throw .usage("an events table needs PostgreSQL") }
        let lock = try StoreOpening.connect(conninfo)
        defer { lock.close() }
        let key = try StoreOpening.runnerSchema(options.postgresSchema).runLockKeys
        do throws(PGError) {
            try lock.query("SELECT pg_advisory_lock(\(key.0), \(key.1 &+ 1))")
        } catch {
            throw StoreOpening.postgresError(error, conninfo: conninfo)
        }
        let prepared = try PreparedJobs.prepare(catalog, options: options, logger: logger, purpose: .write)
        guard let store = prepared.store as? PGStore else { throw .usage("an events table needs PostgreSQL") }
        let jobs = prepared.jobs
        try Session.storeCall { () throws(StoreError) in
            try store.transaction { () throws(StoreError) in
                try store.createSegmentTables()
                try store.ensureSegments(of: jobs.map(\.name), fingerprints: jobs.map(\.definition.fingerprint))
            }
        }
        return (prepared, store)
    }

}

/// Which segments a runner tries: those whose rendezvous hash ranks it first among the live
/// runners. A new runner takes its share, and a dead one's share goes to the others, without
/// any segment being moved by hand; only the load depends on it, never correctness.
struct SegmentPlacement {
    let jobs: [String]
    let runner: String
    private(set) var live: [String] = []
    private(set) var units: [(job: String, segment: Int)] = []

    init(jobs: [String], runner: String) {
        self.jobs = jobs
        self.runner = runner
    }

    /// Places the segments over `live`; true when this runner's share changed.
    mutating func update(live: [String]) -> Bool {
        guard live != self.live else { return false }
        self.live = live
        units = []
        for job in jobs {
            for segment in 0..<PGStore.segmentCount
            where Self.owner(job: job, segment: segment, among: live) == runner {
                units.append((job, segment))
            }
        }
        return true
    }

    /// The runner that ranks first for (job, segment).
    static func owner(job: String, segment: Int, among runners: [String]) -> String? {
        runners.max { a, b in score(a, job, segment) < score(b, job, segment) }
    }

    static func score(_ runner: String, _ job: String, _ segment: Int) -> UInt64 {
        mixed(Fingerprint.fnv1a("\(runner)\u{0}\(job)\u{0}\(segment)"))
    }

    /// The segment of `key` (stable across runs, hosts and versions).
    static func segment(of key: String) -> Int {
        Int(mixed(Fingerprint.fnv1a(key)) % UInt64(PGStore.segmentCount))
    }

    /// FNV-1a's low bits depend only on its inputs' low bits: fold the high ones in (the 64-bit
    /// finaliser of MurmurHash3) before taking a remainder or comparing.
    static func mixed(_ hash: UInt64) -> UInt64 {
        var h = hash
        h ^= h >> 33
        h &*= 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h &*= 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 33
        return h
    }
}
