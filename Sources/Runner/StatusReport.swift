import Journal
import ProjectorCore

/// What `projector status` shows: per job its position and lag, whether its definition changed,
/// its open failures and rejects, and the last run (SPEC §4, issue "status").
public struct StatusReport: Codable, Sendable {
    public struct JournalStatus: Codable, Sendable {
        public var path: String
        public var start: Int
        public var end: Int
        public var segments: Int
        /// Each file of the journal and the positions it holds, in order.
        public var files: [File] = []
        /// What makes every run refuse the journal (segments missing or overlapping); nil when none.
        public var problem: String?
    }

    public struct File: Codable, Sendable {
        public var path: String
        public var start: Int
        public var end: Int
    }

    public struct Failures: Codable, Sendable {
        public var retrying = 0
        public var parked = 0
        public var dead = 0
        public var held = 0

        public var open: Int { retrying + parked + dead }
    }

    public struct JobStatus: Codable, Sendable {
        public var name: String
        public var mode: String
        /// nil when the job has never run.
        public var position: Int?
        public var lagEvents: Int
        public var lagBytes: Int
        public var fingerprint: String
        public var fingerprintChanged: Bool
        /// Events of this job's types that its batches processed (applied, or refreshed keys for),
        /// duplicates left out; lines of other types are not counted.
        public var eventsApplied: Int
        public var updatedAt: Double?
        public var failures: Failures
        public var rejects: Int
        /// Why a run refuses this job (its checkpoint no longer matches the journal); nil when none.
        /// The lag is then unknown and reads 0.
        public var problem: String?
    }

    public struct LastRun: Codable, Sendable {
        public var id: Int
        public var startedAt: Double
        public var finishedAt: Double?
        public var duration: Double?
        public var events: Int
        public var rejects: Int
        public var failures: Int
        public var outcome: String
        public var exitCode: Int?
    }

    /// The apply jobs' de-duplication window: the setting and what the table holds.
    public struct DuplicateIDs: Codable, Sendable {
        /// Seconds of `occurredAt` behind the latest one recorded.
        public var windowSeconds: Double
        /// How many of the latest recorded ids are kept whatever their `occurredAt`.
        public var windowEvents: Int
        /// Ids remembered now.
        public var remembered: Int
        /// Every id recorded at this journal position or later is remembered (0: every id).
        public var fromPosition: Int
        /// The `occurredAt` the remembered ids start after, when known.
        public var since: Double?
    }

    public var journal: JournalStatus
    public var jobs: [JobStatus]
    public var rejects: Int
    public var lastRun: LastRun?
    /// Outbox notifications per state (pending, delivered, dead, disabled).
    public var webhooks: [String: Int] = [:]
    public var disabledEndpoints: [String] = []
    /// nil before a run created the de-duplication table.
    public var duplicateIDs: DuplicateIDs?

    /// What makes a run exit 65 before it starts: the journal's problem and every job's.
    public var problems: [String] { ([journal.problem] + jobs.map(\.problem)).compactMap { $0 } }

    /// Reads the status. The database is opened read-only; a missing one (on PostgreSQL, a
    /// database without the runner's tables) reads as "never run".
    /// Runs the checks a run makes before it starts (segments follow each other, each checkpoint
    /// matches the journal) and reports what fails in `problems` instead of stopping there.
    public static func load(options: RunOptions) throws(RunError) -> StatusReport {
        let catalog = try JobLoader.load(directory: options.jobsDirectory)
        var journal: Journal?
        var files: [Segment] = []
        var journalProblem: String?
        var end = 0
        do {
            let opened = try Journal(path: options.journalPath)
            journal = opened
            files = opened.segments
            end = try opened.lastLineBoundary()
        } catch {
            switch error {
            case .notFound: throw .missingPath(what: "the journal", path: options.journalPath)
            case .inconsistentSegments:
                journal = nil
                journalProblem = error.description
                do {
                    files = try Journal.files(at: options.journalPath).segments
                } catch {
                    throw .journal(error)
                }
                end = files.last?.end ?? 0
            default: throw .journal(error)
            }
        }
        var report = StatusReport(
            journal: JournalStatus(
                path: options.journalPath, start: files.first?.start ?? 0, end: end, segments: files.count,
                files: files.map { File(path: $0.path, start: $0.start, end: $0.end) }, problem: journalProblem),
            jobs: [], rejects: 0, lastRun: nil
        )
        var stored = StoreStatus()
        // On PostgreSQL the store answers nil when no run has created its tables.
        if options.postgresConnection != nil || FileSystem.exists(options.databasePath) {
            let store = try Stores.open(
                path: options.databasePath, schema: options.postgresSchema, readOnly: true,
                busyTimeoutMilliseconds: options.busyTimeoutMilliseconds)
            do throws(StoreError) {
                stored = try store.status() ?? StoreStatus()
            } catch {
                throw .from(error)
            }
            report.rejects = stored.rejects.values.reduce(0, +)
            report.webhooks = Dictionary(uniqueKeysWithValues: stored.outbox.map { ($0.key.rawValue, $0.value) })
            report.disabledEndpoints = stored.disabledEndpoints.sorted()
            report.duplicateIDs = stored.duplicateWindow.map { window in
                DuplicateIDs(
                    windowSeconds: options.duplicateWindow.seconds, windowEvents: options.duplicateWindow.events,
                    remembered: window.ids, fromPosition: window.fromPosition, since: window.since)
            }
            report.lastRun = stored.lastRun.map { run in
                LastRun(
                    id: run.id, startedAt: run.startedAt, finishedAt: run.finishedAt,
                    duration: run.finishedAt.map { $0 - run.startedAt }, events: run.events, rejects: run.rejects,
                    failures: run.failures, outcome: run.finishedAt == nil ? "interrupted or running" : run.outcome,
                    exitCode: run.exitCode)
            }
        }
        var lagCache: [Int: Int] = [:]
        for job in catalog.jobs {
            let checkpoint = stored.checkpoints[job.name]
            let position = checkpoint?.position ?? 0
            var problem: String?
            if let checkpoint, let journal {
                do {
                    try journal.verify(job: job.name, anchor: checkpoint.anchor)
                } catch {
                    problem = error.description
                }
            }
            var lagEvents = lagCache[position]
            if let journal, problem == nil, lagEvents == nil {
                do {
                    lagEvents = position >= end ? 0 : try journal.countLines(from: max(position, journal.start))
                } catch {
                    throw .journal(error)
                }
                lagCache[position] = lagEvents
            }
            report.jobs.append(
                JobStatus(
                    name: job.name, mode: job.mode.rawValue, position: checkpoint?.position, lagEvents: lagEvents ?? 0,
                    lagBytes: max(0, end - position), fingerprint: job.fingerprint,
                    fingerprintChanged: checkpoint.map { !job.matchesFingerprint($0.fingerprint) } ?? false,
                    eventsApplied: checkpoint?.eventsApplied ?? 0, updatedAt: checkpoint?.updatedAt,
                    failures: Failures(stored.failures[job.name] ?? FailureCounts()),
                    rejects: stored.rejects[job.name] ?? 0, problem: problem
                )
            )
        }
        return report
    }
}

extension StatusReport.Failures {
    init(_ counts: FailureCounts) {
        self.init(retrying: counts.retrying, parked: counts.parked, dead: counts.dead, held: counts.held)
    }
}
