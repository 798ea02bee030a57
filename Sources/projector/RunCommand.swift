import ArgumentParser
import Foundation
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

    @Option(name: .customLong("jobs"), help: "Only these jobs (comma-separated).")
    var jobs: String?

    @Option(name: .customLong("max-events"), help: "Stop after this many events (the next run continues).")
    var maxEvents: Int?

    @Option(name: .customLong("max-seconds"), help: "Stop starting new batches after this many seconds.")
    var maxSeconds: Double?

    @Flag(name: .customLong("dry-run"), help: "Report what a run would do (events, keys per job, lag) without writing.")
    var dryRun = false

    @Flag(name: .long, help: "Wait for the run lock instead of exiting with 75.")
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

    @Flag(name: .customLong("rebuild-changed"), help: "First rebuild the jobs whose definition changed since their checkpoint.")
    var rebuildChanged = false

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
        let logger = LogSetup.logger(level: store.logLevel)
        var options = try store.runOptions()
        options.selectedJobs = jobs.map {
            $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        }
        options.maxEvents = maxEvents
        options.maxSeconds = maxSeconds
        options.dryRun = dryRun
        options.waitForLock = wait
        options.batchEvents = batchEvents
        options.batchBytes = batchBytes
        options.batchMilliseconds = batchMilliseconds
        options.maxLineBytes = maxLineBytes
        options.retry = RetryPolicy(baseDelay: retryBase, maxDelay: max(retryBase, 6 * 3600), maxAttempts: maxAttempts)
        options.synchronous = synchronous.uppercased()
        let report: RunReport
        do {
            if rebuildChanged && !dryRun {
                let changed = try StatusReport.load(options: options).jobs.filter {
                    $0.fingerprintChanged && (options.selectedJobs?.contains($0.name) ?? true)
                }.map(\.name)
                for rebuilt in try Rebuild(options: options, logger: logger).execute(jobs: changed) {
                    print("rebuilt \(rebuilt.job) (definition changed) in \(Output.seconds(rebuilt.seconds))")
                }
            }
            report = try ProjectionRun(options: options, logger: logger).execute()
        } catch {
            throw ExitStatus.fail(error)
        }
        if json {
            print(try Output.json(report))
        } else {
            print(Summary.text(report))
        }
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }
}
