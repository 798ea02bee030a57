import PostgresStore
import ProjectorCore

/// What `projector status` shows for runners sharing an events table (SPEC §10): per job its
/// segments' progress and failures, the runners and which segments each committed last, the
/// reading horizon and the transaction that holds it, and events held for an earlier version.
public struct SegmentedStatus: Codable, Sendable {
    public struct Job: Codable, Sendable {
        public var name: String
        public var segments: Int
        /// Rows of the events table past the job's lowest segment checkpoint (counted up to a
        /// million), the job's lag.
        public var lagEvents: Int
        public var eventsApplied: Int
        /// Seconds since the job's latest commit on any segment.
        public var lastCommitSeconds: Double?
        public var failingSegments: Int
        public var segmentDetails: [Segment]
    }

    public struct Segment: Codable, Sendable {
        public var segment: Int
        public var position: String
        /// Rows appended after the segment's checkpoint, by `seq` (an estimate: rows of
        /// transactions still open count too).
        public var lagRows: Int
        public var owner: String?
        public var lastCommitSeconds: Double?
        public var eventsApplied: Int
        public var error: String?
        public var attempts: Int
    }

    public struct Runner: Codable, Sendable {
        public var name: String
        public var host: String
        public var backendPID: Int
        public var heartbeatSeconds: Double
        public var alive: Bool
        /// Segments whose latest commit is this runner's.
        public var segments: Int
    }

    public struct Horizon: Codable, Sendable {
        public var pid: Int
        public var applicationName: String
        public var state: String
        public var database: String
        public var seconds: Double
    }

    public struct Held: Codable, Sendable {
        public var job: String
        public var key: String
        public var version: Int
        public var waitingFor: Int
        public var seconds: Double
    }

    public var table: String
    public var jobs: [Job]
    public var runners: [Runner]
    /// The oldest transaction still running that has written: no reader goes past it.
    public var horizonHeldBy: Horizon?
    public var held: [Held]
    /// Rows of the events table recorded as rejects (a field missing or of the wrong type), and
    /// events a job's key could not be found in.
    public var rejects: Int
    /// Seconds a runner may go without a heartbeat before the others take its segments.
    public var runnerTimeoutSeconds: Double

    /// How long an event may wait for an earlier version before status calls it out.
    public static let heldWarningSeconds = 60.0

    public var problems: [String] {
        var problems: [String] = []
        for job in jobs where job.failingSegments > 0 {
            problems.append("job \(job.name): \(job.failingSegments) segment(s) stopped at a failing key")
        }
        for hold in held where hold.seconds >= Self.heldWarningSeconds {
            problems.append(
                "job \(hold.job) key \(hold.key): version \(hold.version) has waited \(Int(hold.seconds)) s for "
                    + "version \(hold.waitingFor)")
        }
        return problems
    }

    public static func load(options: RunOptions) throws(RunError) -> SegmentedStatus {
        guard let name = options.eventsTableName, let table = PGEventsTable(name) else {
            throw .usage("the journal \(options.journalPath) is not an events table (postgres:TABLE)")
        }
        guard let conninfo = options.postgresConnection else {
            throw .usage("an events table is read from PostgreSQL: give --database postgres://…")
        }
        let store = try StoreOpening.postgresStore(conninfo, schema: options.postgresSchema)
        let timeout = options.runnerTimeout
        try StoreOpening.requireEventsTable(options, in: store)
        do throws(StoreError) {
            guard try store.hasSegmentTables() else {
                return SegmentedStatus(
                    table: name, jobs: [], runners: [], horizonHeldBy: try horizon(store), held: [], rejects: 0,
                    runnerTimeoutSeconds: timeout)
            }
            let segments = try store.segmentRows()
            let head = try store.headSeq(table)
            var jobs: [Job] = []
            for (job, rows) in Dictionary(grouping: segments, by: \.job).sorted(by: { $0.key < $1.key }) {
                let lowest = rows.map(\.position).min() ?? .start
                jobs.append(
                    Job(
                        name: job, segments: rows.count,
                        lagEvents: try store.rowsAfter(table, lowest, limit: 1_000_000),
                        eventsApplied: rows.reduce(0) { $0 + $1.eventsApplied },
                        lastCommitSeconds: rows.compactMap(\.committedAgo).min(),
                        failingSegments: rows.filter { $0.error != nil }.count,
                        segmentDetails: rows.map {
                            Segment(
                                segment: $0.segment, position: $0.position.description,
                                lagRows: max(0, head - $0.position.seq), owner: $0.owner,
                                lastCommitSeconds: $0.committedAgo, eventsApplied: $0.eventsApplied, error: $0.error,
                                attempts: $0.attempts)
                        }))
            }
            let owned = Dictionary(grouping: segments.compactMap(\.owner), by: { $0 }).mapValues(\.count)
            let runners = try store.runnerRows().map {
                Runner(
                    name: $0.name, host: $0.host, backendPID: $0.backendPID, heartbeatSeconds: $0.heartbeatAgo,
                    alive: $0.connected && $0.heartbeatAgo < timeout, segments: owned[$0.name] ?? 0)
            }
            let held = try store.heldVersionRows(limit: 20).map {
                Held(job: $0.job, key: $0.key, version: $0.version, waitingFor: $0.waitingFor, seconds: $0.seconds)
            }
            return SegmentedStatus(
                table: name, jobs: jobs, runners: runners, horizonHeldBy: try horizon(store), held: held,
                rejects: try store.status()?.rejects.values.reduce(0, +) ?? 0,
                runnerTimeoutSeconds: timeout)
        } catch {
            throw .from(error)
        }
    }

    private static func horizon(_ store: PGStore) throws(StoreError) -> Horizon? {
        try store.horizonHolder().map {
            Horizon(
                pid: $0.pid, applicationName: $0.applicationName, state: $0.state, database: $0.database,
                seconds: $0.seconds)
        }
    }
}

extension SegmentedStatus {
    /// The textfile's gauges of runners sharing an events table: per job its failing segments and
    /// the seconds since its last commit, per runner whether it is alive and the segments it
    /// committed on last, and how long the reading horizon has been held.
    var metrics: String {
        var out = ""
        func gauge(_ name: String, _ help: String, _ samples: [(labels: String, value: Double)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
            for sample in samples {
                out += name + (sample.labels.isEmpty ? "" : "{\(sample.labels)}") + " \(sample.value)\n"
            }
        }
        gauge(
            "projector_segments_failing", "Segments of the job stopped at a failing key.",
            jobs.map { (#"job="\#($0.name)""#, Double($0.failingSegments)) })
        gauge(
            "projector_job_last_commit_age_seconds", "Seconds since the job's latest commit on any segment.",
            jobs.compactMap { job in job.lastCommitSeconds.map { (#"job="\#(job.name)""#, $0) } })
        gauge(
            "projector_runners_alive", "Runners alive on the events table.",
            [("", Double(runners.filter(\.alive).count))])
        gauge(
            "projector_runner_segments", "Segments whose latest commit is the runner's.",
            runners.map { (#"runner="\#($0.name)""#, Double($0.segments)) })
        gauge(
            "projector_reading_horizon_held_seconds",
            "How long the transaction that holds every reader's horizon has been open (0: none).",
            [("", horizonHeldBy?.seconds ?? 0)])
        gauge("projector_held_versions", "Events held for an earlier version.", [("", Double(held.count))])
        return out
    }
}

extension SegmentedStatus.Job {
    /// The job as the journal's status shows one, for the textfile's lag gauge.
    var asJobStatus: StatusReport.JobStatus {
        StatusReport.JobStatus(
            name: name, mode: "", position: nil, lagEvents: lagEvents, lagBytes: 0, fingerprint: "",
            fingerprintChanged: false, eventsApplied: eventsApplied, updatedAt: nil,
            failures: StatusReport.Failures(retrying: failingSegments), rejects: 0, problem: nil)
    }
}
