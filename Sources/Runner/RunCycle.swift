public import Logging

/// One run with what `projector run` does around it: the rebuild of changed jobs first when
/// asked, then `ProjectionRun`, then the metrics file.
public struct RunCycle: Sendable {
    public var rebuildChanged = false
    public var metrics: MetricsFile?
    /// Told of each job `--rebuild-changed` rebuilt (`RunInvocation` sets it).
    public var rebuilt: (@Sendable (Rebuild.Report) -> Void)?
    /// Called after each run, finished or not (the executable clears its progress bar).
    public var ended: (@Sendable () -> Void)?
    public var clock: any WallClock = SystemClock()

    public init() {}

    public func execute(options: RunOptions, logger: Logger) throws(RunError) -> RunReport {
        defer { ended?() }
        if options.eventsTableName != nil {
            if rebuildChanged { throw .usage("--rebuild-changed is not available on an events table") }
        }
        if rebuildChanged && !options.dryRun {
            for report in try RebuildChanged.execute(options: options, logger: logger) {
                rebuilt?(report)
            }
        }
        let report = try ProjectionRun(options: options, logger: logger).execute()
        metrics?.update(after: report, options: options, logger: logger, clock: clock)
        return report
    }
}
