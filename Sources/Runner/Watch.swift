import Journal
public import Logging
public import ServiceLifecycle

/// `run --watch` as a service: holds the run lock, runs whenever the journal grows (looked at
/// every `pollInterval`) and at least every `idleInterval` (for due webhooks and retries), and
/// waits and tries again while the database is busy. Runs that find nothing to do share one
/// "idle" row in the run history, which says when the watch last looked. On a graceful shutdown
/// (SIGTERM/SIGINT in the service group) or cancellation, the batch in flight commits, then the
/// service returns.
///
/// Runs and the lock are blocking work: they run on a thread of their own, and learn of the
/// shutdown through `RunOptions.shouldStop`.
public struct Watch: Service {
    let options: RunOptions
    let logger: Logger
    let cycle: RunCycle
    let finished: @Sendable (RunReport) -> Void
    let stop: StopRequest
    public var pollInterval: Duration = .milliseconds(100)
    /// Seconds between runs while the journal does not grow.
    public var idleInterval = 5.0
    var busyPause: Duration = .milliseconds(500)

    /// `finished` is told of each run that did something (events, rejects, deliveries); `stop` is
    /// set by the graceful shutdown and may be watched or set by the caller too.
    public init(
        options: RunOptions, logger: Logger, cycle: RunCycle, stop: StopRequest = StopRequest(),
        finished: @escaping @Sendable (RunReport) -> Void
    ) {
        self.options = options
        self.logger = logger
        self.cycle = cycle
        self.stop = stop
        self.finished = finished
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await watch()
            } onCancel: {
                stop.request()
            }
        } onGracefulShutdown: {
            stop.request()
        }
    }

    func watch() async throws(RunError) {
        var options = options
        let stop = stop
        let asked = options.shouldStop
        let shouldStop: @Sendable () -> Bool = { stop.isRequested || asked?() == true }
        options.shouldStop = shouldStop
        if options.eventsTableName != nil {
            // Several runners share an events table: no run lock, one connection for the watch.
            let runOptions = options
            let logger = logger
            let metrics = cycle.metrics
            let report = try await OwnThread.run { () -> Result<RunReport, RunError> in
                Result { () throws(RunError) in
                    let run = try SegmentedRun(options: runOptions, logger: logger)
                    run.metrics = metrics
                    return try run.execute(watching: true)
                }
            }.get()
            finished(report)
            logger.notice("stopped cleanly")
            return
        }
        let lockOptions = options
        let logger = logger
        let lock = try await OwnThread.run { () -> Result<RunLock, RunError> in
            Result { () throws(RunError) in try RunLock(options: lockOptions, logger: logger) }
        }.get()
        defer { withExtendedLifetime(lock) {} }
        options.lockHeld = true
        options.collapsesIdleRuns = true
        logger.notice("watching the journal", metadata: ["journal": "\(options.journalPath)"])
        while !shouldStop() {
            let runOptions = options
            let cycle = cycle
            let outcome = await OwnThread.run { () -> Result<RunReport, RunError> in
                Result { () throws(RunError) in try cycle.execute(options: runOptions, logger: logger) }
            }
            switch outcome {
            case .failure(let error):
                switch error {
                case .databaseBusy: logger.warning("database busy; trying again", metadata: ["error": "\(error)"])
                case .databaseUnavailable:
                    logger.warning("database unreachable; trying again", metadata: ["error": "\(error)"])
                default: throw error
                }
                try? await Task.sleep(for: busyPause)
                continue
            case .success(let report):
                if report.events > 0 || report.rejects > 0 || report.deliveries.attempted > 0 { finished(report) }
            }
            await waitForWork(shouldStop)
        }
        logger.notice("stopped cleanly")
    }

    /// Returns when the journal grew, `idleInterval` passed, or a stop was asked for.
    func waitForWork(_ shouldStop: @Sendable () -> Bool) async {
        let size = journalSize()
        let started = Monotonic.now()
        while !shouldStop() && Monotonic.now() - started < idleInterval && journalSize() == size {
            try? await Task.sleep(for: pollInterval)
        }
    }

    func journalSize() -> Int {
        (try? Journal(path: options.journalPath))?.end ?? -1
    }
}
