import ArgumentParser
import Foundation
import Logging
import ProjectorCore
import Runner

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Process the events appended since the last run.",
        discussion: """
            Takes the run lock, streams the journal past the lowest checkpoint in batches, runs every job \
            in one transaction per batch with its checkpoint, and records rejects and failures. Exits 0 when \
            caught up with nothing failed, 65 when lines were rejected or keys failed, 75 when another run \
            holds the lock.
            """
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var lock: LockOptions

    @Option(name: .customLong("jobs"), help: "Only these jobs (comma-separated).")
    var jobs: String?

    @Option(name: .customLong("max-events"), help: "Stop after this many events (the next run continues).")
    var maxEvents: Int?

    @Option(name: .customLong("max-seconds"), help: "Stop starting new batches after this many seconds.")
    var maxSeconds: Double?

    @Flag(name: .customLong("dry-run"), help: "Report what a run would do (events, keys per job, lag) without writing.")
    var dryRun = false

    @Flag(name: .long, help: "Wait for the run lock (saying who holds it) instead of exiting with 75.")
    var wait = false

    @Option(name: .customLong("batch-events"), help: "Most events in one transaction.")
    var batchEvents = 20_000

    @Option(name: .customLong("batch-bytes"), help: "Most journal bytes in one transaction.")
    var batchBytes = 16 << 20

    @Option(name: .customLong("batch-ms"), help: "Target milliseconds one transaction may hold the write lock.")
    var batchMilliseconds = 250.0

    @Option(name: .customLong("max-line-bytes"), help: "Longer journal lines are rejected.")
    var maxLineBytes = 1 << 20

    @Option(name: .customLong("max-attempts"), help: "Failed attempts before a key is dead.")
    var maxAttempts = 5

    @Option(name: .customLong("retry-base"), help: "Seconds before the first retry of a failed key; doubles each time.")
    var retryBase = 30.0

    @Option(help: "SQLite synchronous setting: NORMAL (default, safe in WAL with the journal to replay) or FULL.")
    var synchronous = "NORMAL"

    @Flag(help: "Print the report as JSON on standard output.")
    var json = false

    @Flag(
        name: .customLong("rebuild-changed"),
        help: "First rebuild the jobs whose definition changed since their checkpoint.")
    var rebuildChanged = false

    @Flag(help: "Keep running: process new events as they are appended, until SIGTERM or SIGINT.")
    var watch = false

    @Option(
        name: .customLong("metrics-file"), help: "Write Prometheus textfile metrics here after each run (atomically).")
    var metricsFile: String?

    @Option(name: .customLong("ping-url"), help: "Healthcheck URL: POST URL/start, then URL on success or URL/fail.")
    var pingURL: String?

    @Option(
        name: .customLong("runner"),
        help:
            "On an events table (--journal postgres:TABLE), this runner's name among those sharing the work (default HOST-PID)."
    )
    var runner: String?

    @Option(
        name: .customLong("runner-timeout"),
        help:
            "On an events table, seconds without a heartbeat before the other runners take a frozen runner's segments.")
    var runnerTimeout: Double = 5

    func validate() throws {
        if let maxEvents, maxEvents < 1 { throw ValidationError("--max-events must be at least 1") }
        if let maxSeconds, maxSeconds <= 0 { throw ValidationError("--max-seconds must be positive") }
        if !(runnerTimeout.isFinite && runnerTimeout >= 0.5) {
            throw ValidationError("--runner-timeout must be at least 0.5 seconds")
        }
        if let runner, runner.isEmpty || runner.count > 100 {
            throw ValidationError("--runner must be a name of 1 to 100 characters")
        }
        if batchEvents < 1 { throw ValidationError("--batch-events must be at least 1") }
        if batchBytes < 1024 { throw ValidationError("--batch-bytes must be at least 1024") }
        if maxLineBytes < 64 { throw ValidationError("--max-line-bytes must be at least 64") }
        if maxAttempts < 1 { throw ValidationError("--max-attempts must be at least 1") }
        if !["NORMAL", "FULL", "EXTRA"].contains(synchronous.uppercased()) {
            throw ValidationError("--synchronous must be NORMAL, FULL or EXTRA")
        }
    }

    func run() throws {
        let logger = store.makeLogger()
        Signals.install()
        let session = try runSession(logger)
        if watch {
            try Blocking.wait { try await session.watch() }
            return
        }
        let report = try session.once()
        if !report.outcome.isClean { throw ExitCode(ExitStatus.code(for: report.outcome)) }
    }

    /// The run as flags ask for it, printing what it tells.
    func runSession(_ logger: Logger) throws -> RunInvocation {
        var options = try runOptions()
        let progress = json ? nil : TerminalProgress.ifTerminal(logFormat: store.logFormat)
        if let progress { options.progress = { progress.update($0) } }
        let json = json
        var session = RunInvocation(options: options, logger: logger, summary: { Summary.text($0) }) { event in
            switch event {
            case .rebuilt(let rebuilt):
                print("rebuilt \(rebuilt.job) (definition changed) in \(Output.seconds(rebuilt.seconds))")
            case .finished(let report) where json:
                do {
                    print(try Output.json(report))
                } catch {
                    FileHandle.standardError.write(Data("projector: cannot write the report as JSON: \(error)\n".utf8))
                }
            case .finished(let report):
                print(Summary.text(report))
            case .pingFailed(let failure):
                FileHandle.standardError.write(Data("projector: healthcheck ping failed: \(failure)\n".utf8))
            }
        }
        session.cycle.rebuildChanged = rebuildChanged
        session.cycle.metrics = metricsFile.map { MetricsFile(path: $0) { ExitStatus.code(for: $0) } }
        if let progress { session.cycle.ended = { progress.finish() } }
        session.ping = pingURL.map { HealthcheckPing(url: $0) }
        return session
    }

    func runOptions() throws -> RunOptions {
        var options = try store.runOptions(signing: dryRun ? .none : .all)
        options.selectedJobs = jobs.map {
            $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        }
        options.maxEvents = maxEvents
        options.maxSeconds = maxSeconds
        options.runnerName = runner
        options.runnerTimeout = runnerTimeout
        options.dryRun = dryRun
        options.waitForLock = wait
        lock.apply(to: &options)
        options.batchEvents = batchEvents
        options.batchBytes = batchBytes
        options.batchMilliseconds = batchMilliseconds
        options.maxLineBytes = maxLineBytes
        options.retry = RetryPolicy(baseDelay: retryBase, maxDelay: max(retryBase, 6 * 3600), maxAttempts: maxAttempts)
        options.synchronous = synchronous.uppercased()
        options.shouldStop = { Signals.requested }
        return options
    }
}
