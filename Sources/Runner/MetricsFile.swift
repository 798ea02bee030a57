public import Logging

/// `--metrics-file`: after each run, adds it to the stored counters and rewrites the Prometheus
/// textfile. A failure is logged and never fails the run.
public struct MetricsFile: Sendable {
    public var path: String
    /// The exit code a run's outcome maps to (the executable decides it).
    public var exitCode: @Sendable (RunReport.Outcome) -> Int32

    public init(path: String, exitCode: @escaping @Sendable (RunReport.Outcome) -> Int32) {
        self.path = path
        self.exitCode = exitCode
    }

    public func update(after report: RunReport, options: RunOptions, logger: Logger, clock: any WallClock) {
        guard !report.dryRun else { return }
        do throws(RunError) {
            try Metrics.record(
                report, exitCode: exitCode(report.outcome), databasePath: options.databasePath,
                postgresSchema: options.postgresSchema, now: clock.now())
            var status: StatusReport
            var extra = ""
            if options.eventsTableName != nil {
                let segmented = try SegmentedStatus.load(options: options)
                status = StatusReport(
                    journal: StatusReport.JournalStatus(path: options.journalPath, start: 0, end: 0, segments: 0),
                    jobs: segmented.jobs.map(\.asJobStatus), rejects: segmented.rejects, lastRun: nil)
                extra = segmented.metrics
            } else {
                status = try StatusReport.load(options: options)
            }
            let text = try Metrics.render(
                databasePath: options.databasePath, postgresSchema: options.postgresSchema, status: status)
            try Metrics.write(text + extra, to: path)
        } catch {
            logger.error("cannot write metrics", metadata: ["error": "\(error)"])
        }
    }
}
