import ArgumentParser
import Foundation
import Journal
import Logging
import ProjectorCore
import Runner
import SQLiteStore
import Webhooks

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

    func validate() throws {
        if let maxEvents, maxEvents < 1 { throw ValidationError("--max-events must be at least 1") }
        if let maxSeconds, maxSeconds <= 0 { throw ValidationError("--max-seconds must be positive") }
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
        let options = try runOptions()
        ping("/start", "")
        do {
            if watch {
                try watchLoop(options, logger)
                ping("", "watch stopped")
                return
            }
            let report = try runOnce(options, logger)
            if json {
                print(try Output.json(report))
            } else {
                print(Summary.text(report))
            }
            writeMetrics(report, options, logger)
            ping(report.outcome.isClean ? "" : "/fail", Summary.text(report))
            if !report.outcome.isClean { throw ExitCode(ExitStatus.code(for: report.outcome)) }
        } catch let error as RunError {
            ping("/fail", error.description)
            throw error
        }
    }

    func runOptions() throws -> RunOptions {
        var options = try store.runOptions(signing: dryRun ? .none : .all)
        options.selectedJobs = jobs.map {
            $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        }
        options.maxEvents = maxEvents
        options.maxSeconds = maxSeconds
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

    func runOnce(_ options: RunOptions, _ logger: Logger) throws(RunError) -> RunReport {
        if rebuildChanged && !dryRun {
            let changed = try StatusReport.load(options: options).jobs.filter {
                $0.fingerprintChanged && (options.selectedJobs?.contains($0.name) ?? true)
            }.map(\.name)
            for rebuilt in try Rebuild(options: options, logger: logger).execute(jobs: changed) {
                print("rebuilt \(rebuilt.job) (definition changed) in \(Output.seconds(rebuilt.seconds))")
            }
        }
        var options = options
        let progress = json ? nil : TerminalProgress.ifTerminal(logFormat: store.logFormat)
        if let progress { options.progress = { progress.update($0) } }
        defer { progress?.finish() }
        return try ProjectionRun(options: options, logger: logger).execute()
    }

    /// `--watch`: holds the lock, runs whenever the journal grows (polled every 100 ms) and at
    /// least every 5 s (due webhooks and retries), until SIGTERM/SIGINT.
    func watchLoop(_ options: RunOptions, _ logger: Logger) throws {
        let lock = try RunLock(options: options, logger: logger)
        defer { withExtendedLifetime(lock) {} }
        var options = options
        options.lockHeld = true
        logger.notice("watching the journal", metadata: ["journal": "\(options.journalPath)"])
        while !Signals.requested {
            let outcome: Result<RunReport, RunError>
            do {
                outcome = .success(try runOnce(options, logger))
            } catch {
                outcome = .failure(error)
            }
            guard case .success(let report) = outcome else {
                if case .failure(let error) = outcome, case .databaseBusy = error {
                    logger.warning("database busy; trying again", metadata: ["error": "\(error)"])
                    usleep(500_000)
                    continue
                }
                if case .failure(let error) = outcome { throw error }
                continue
            }
            if report.events > 0 || report.rejects > 0 || report.deliveries.attempted > 0 {
                if json { print(try Output.json(report)) } else { print(Summary.text(report)) }
            }
            writeMetrics(report, options, logger)
            let size = journalSize(options.journalPath)
            let started = Date()
            while !Signals.requested && Date().timeIntervalSince(started) < 5
                && journalSize(options.journalPath) == size
            {
                usleep(100_000)
            }
        }
        logger.notice("stopped cleanly")
    }

    func journalSize(_ path: String) -> Int {
        (try? Journal(path: path))?.end ?? -1
    }

    func writeMetrics(_ report: RunReport, _ options: RunOptions, _ logger: Logger) {
        guard let metricsFile, !report.dryRun else { return }
        do {
            try Metrics.record(
                report, exitCode: ExitStatus.code(for: report.outcome), databasePath: options.databasePath,
                now: Date().timeIntervalSince1970
            )
            let status = try StatusReport.load(options: options)
            try Metrics.write(try Metrics.render(databasePath: options.databasePath, status: status), to: metricsFile)
        } catch {
            logger.error("cannot write metrics", metadata: ["error": "\(error)"])
        }
    }

    /// Healthcheck pings never change the exit code.
    func ping(_ suffix: String, _ body: String) {
        guard let pingURL, !dryRun else { return }
        let result = CurlTransport().perform(
            [HTTPRequest(url: pingURL + suffix, headers: [], body: Array(body.utf8), timeout: 10, allowHTTP: true)],
            budget: 11)
        if let failure = result.first?.failure {
            FileHandle.standardError.write(Data("projector: healthcheck ping failed: \(failure)\n".utf8))
        }
    }
}
