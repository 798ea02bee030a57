public import Logging
import ServiceLifecycle
import UnixSignals

/// One `projector run`: a healthcheck ping when it starts, then one run or a watch under a
/// service group, then a ping saying how it ended. What there is to show goes to `events`.
public struct RunInvocation: Sendable {
    public var options: RunOptions
    public var logger: Logger
    public var cycle = RunCycle()
    public var ping: HealthcheckPing?
    /// The text a finished run's ping carries (the executable's summary).
    public var summary: @Sendable (RunReport) -> String
    public var events: @Sendable (RunEvent) -> Void

    public init(
        options: RunOptions, logger: Logger, summary: @escaping @Sendable (RunReport) -> String,
        events: @escaping @Sendable (RunEvent) -> Void
    ) {
        self.options = options
        self.logger = logger
        self.summary = summary
        self.events = events
    }

    /// One run; SIGTERM/SIGINT (through `options.shouldStop`) stop it after the batch in flight.
    public func once() throws(RunError) -> RunReport {
        send(.start, "")
        do {
            let report = try toldCycle.execute(options: options, logger: logger)
            events(.finished(report))
            send(report.outcome.isClean ? .success : .fail, summary(report))
            return report
        } catch {
            send(.fail, error.description)
            throw error
        }
    }

    /// `--watch` under a service group until SIGTERM or SIGINT asks for a graceful shutdown: the
    /// batch in flight commits, then this returns.
    public func watch() async throws {
        send(.start, "")
        let events = events
        let watch = Watch(options: options, logger: logger, cycle: toldCycle) { events(.finished($0)) }
        // Named, so that the group's debug logs do not print the options (webhook secrets).
        let service = ServiceGroupConfiguration.ServiceConfiguration(
            service: watch, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "watch")
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await withThrowingTaskGroup { tasks in
                tasks.addTask { try await group.run() }
                tasks.addTask { await SecondInterrupt.watch() }
                try await tasks.next()
                tasks.cancelAll()
            }
        } catch let error as RunError {
            send(.fail, error.description)
            throw error
        }
        send(.success, "watch stopped")
    }

    /// The cycle, telling `events` of the jobs it rebuilt.
    var toldCycle: RunCycle {
        var cycle = cycle
        let events = events
        cycle.rebuilt = { events(.rebuilt($0)) }
        return cycle
    }

    func send(_ kind: HealthcheckPing.Kind, _ body: String) {
        guard let ping, !options.dryRun, let failure = ping.send(kind, body: body) else { return }
        events(.pingFailed(failure))
    }
}
