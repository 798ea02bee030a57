import ArgumentParser
import Foundation
import Journal
import Logging
import PostgresClient
import ProjectorCore
import QaHubDemo
import Runner
import Webhooks

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Simulate the QaHub API, run the shipped jobs on what it wrote, and show the result.",
        discussion: """
            Creates a QaHub write model and a segmented journal in --dir, appends thousands of events \
            (creates, updates, deletes, results) the way the API would, runs the jobs twice (a backlog, \
            then an incremental run), checks every read model against a full recompute, and prints samples. \
            With --postgres, the read models and a copy of the write model (schema app) live on a throwaway \
            PostgreSQL server the demo starts with scripts/postgres-cluster and removes at the end, and the \
            jobs are those of jobs/postgres.
            """
    )

    @Option(help: "Where to create the demo's files (emptied first).")
    var dir = "demo-output"

    @Option(name: .customLong("jobs-dir"), help: "The jobs to run (default: jobs, or jobs/postgres with --postgres).")
    var jobsDirectory: String?

    @Flag(help: "Run on a throwaway PostgreSQL server instead of SQLite.")
    var postgres = false

    @Option(
        name: .customLong("cluster-script"),
        help: "With --postgres: the script that starts and stops the throwaway server.")
    var clusterScript = "scripts/postgres-cluster"

    @Option(help: "How many events the simulated API appends.")
    var events = 20_000

    @Option(help: "Seed of the simulation (the same seed gives the same data).")
    var seed: UInt64 = 42

    @Option(name: .customLong("log-level"), help: "Log level of the runs.")
    var logLevel = "error"

    func validate() throws {
        if events < 100 { throw ValidationError("--events must be at least 100") }
    }

    func run() throws {
        let logger = LogSetup.logger(level: logLevel)
        let started = Date()
        let jobsDirectory = self.jobsDirectory ?? (postgres ? "jobs/postgres" : "jobs")
        guard FileManager.default.fileExists(atPath: jobsDirectory) else {
            throw RunError.missingPath(
                what: "the jobs directory (run the demo from the repository)", path: jobsDirectory)
        }
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let writeModel = dir + "/qahub.db"
        let journalPath = dir + "/journal"
        let appender = try JournalWriter(path: journalPath, directory: true, segmentBytes: 4 << 20)
        let simulator = try QaHubSimulator(writeModelPath: writeModel, journal: appender, seed: seed)
        let cluster = try postgres ? DemoPostgresCluster(script: clusterScript) : nil
        defer { cluster?.stop() }
        let signalSources = cluster?.stopOnSignals() ?? []
        defer { signalSources.forEach { $0.cancel() } }
        try cluster?.start()
        if let cluster {
            print("== 0. A throwaway PostgreSQL server on 127.0.0.1:\(cluster.port) (in \(cluster.directory)/)")
        }

        print("== 1. The QaHub API writes its database and appends events to \(journalPath)/")
        try simulator.bootstrap(projects: 12)
        try simulator.simulate(events: events * 4 / 5)
        // A client bug and a crash mid-write, as a journal sees them on a bad day.
        try simulator.appendMalformed(#"{"type":"TEST_RUN_UPDATED","aggregateType":"test_run","data":{}}"#)
        try simulator.appendMalformed(#"{"id":"evt-x","type":"TEST_RUN_CREATED","aggregate"#)
        let types = simulator.eventsByType.sorted { $0.value > $1.value }.prefix(6)
            .map { "\($0.key) \(Output.count($0.value))" }.joined(separator: ", ")
        print("   \(Output.count(simulator.events)) events (\(types), …) and 2 malformed lines")

        // A dashboard that wants to know when read models change: a receiver on 127.0.0.1 that
        // checks every signature with the endpoint's secret.
        let secrets = try WebhookSecret.list(WebhookSecret.generate())
        let receiver = try WebhookReceiver(secrets: secrets)
        defer { receiver.stop() }
        var options = RunOptions(
            databasePath: dir + "/readmodels.db", journalPath: journalPath, jobsDirectory: jobsDirectory)
        if let cluster {
            options.databasePath = cluster.conninfo()
        } else {
            options.attachments = [Attachment(name: "app", path: writeModel)]
        }
        options.exitCode = { ExitStatus.code(for: $0) }
        options.endpoints = [
            WebhookEndpoint(name: "qa-dashboard", url: receiver.url, secrets: secrets, allowHTTP: true)
        ]

        if let cluster {
            let copied = try PostgresWriteModel.load(from: writeModel, into: connect(cluster.conninfo()))
            print(
                "   the write model copied into PostgreSQL's schema app: \(Output.count(copied.values.reduce(0, +))) rows"
            )
        }

        print("\n== 2. projector run: the backlog")
        let first = try runOnce(options, logger)
        print(indent(Summary.text(first)))

        print("\n== 3. The API keeps writing; projector run again: only the new events")
        try simulator.simulate(events: events / 5)
        if let cluster { try PostgresWriteModel.load(from: writeModel, into: connect(cluster.conninfo())) }
        let second = try runOnce(options, logger)
        print(indent(Summary.text(second)))

        print("\n== 4. Check: every read model equals a full recompute into a fresh database")
        var fresh = options
        fresh.databasePath = dir + "/recompute.db"
        fresh.endpoints = []
        let tables = ["test_runs_view", "bug_budget_view", "project_daily_quality"]
        let differences: [ReadModelComparison.Difference]
        if let cluster {
            try connect(cluster.conninfo()).execute("CREATE DATABASE recompute")
            fresh.databasePath = cluster.conninfo(database: "recompute")
            let recompute = try connect(fresh.databasePath)
            try PostgresWriteModel.load(from: writeModel, into: recompute)
            _ = try runOnce(fresh, logger)
            differences = try PostgresReadModels.compare(connect(options.databasePath), recompute, tables: tables)
        } else {
            _ = try runOnce(fresh, logger)
            differences = try ReadModelComparison.compare(options.databasePath, fresh.databasePath, tables: tables)
        }
        for difference in differences { print("   " + difference.description) }

        print("\n== 5. Read model samples")
        let samples: (String) throws -> [[String]]
        if cluster != nil {
            let connection = try connect(options.databasePath)
            samples = { try PostgresReadModels.rows(connection, $0) }
        } else {
            let database = try ReadModelSamples(databasePath: options.databasePath, writeModelPath: writeModel)
            samples = { try database.rows($0) }
        }
        print("   test_runs_view — most failed results:")
        print(
            indent(
                try table(
                    samples,
                    "SELECT id, project_id, status, total_results, passed, failed, pass_rate, mean_duration_ms FROM test_runs_view ORDER BY failed DESC, id LIMIT 5"
                ), 5))
        print("   bug_budget_view — closest to exhaustion:")
        print(
            indent(
                try table(
                    samples,
                    "SELECT budget_id, project_id, max_failures, failures_used, remaining, exhausted FROM bug_budget_view ORDER BY remaining, budget_id LIMIT 5"
                ), 5))
        print("   project_daily_quality — project 1:")
        print(
            indent(
                try table(
                    samples,
                    "SELECT day, runs_started, results, passed, failed, skipped, blocked FROM project_daily_quality WHERE project_id = 1 ORDER BY day LIMIT 7"
                ), 5))

        print("\n== 6. Webhooks received by qa-dashboard at \(receiver.url)")
        let received = receiver.received
        for request in received {
            let data = request.json?["data"] as? [String: Any] ?? [:]
            let range = "\(data["fromPosition"] ?? "?")..<\(data["toPosition"] ?? "?")"
            print(
                "   \(request.id)  \(data["job"] ?? "?")  positions \(range)  events \(data["events"] ?? "?")"
                    + "  keys \(data["keysTotal"] ?? "?")"
                    + ((data["truncated"] as? Bool) == true ? " (first 1000 listed)" : "")
                    + "  signature \(request.verified == true ? "verified" : "INVALID")")
        }
        let allVerified = !received.isEmpty && received.allSatisfy { $0.verified == true }

        let allEqual = differences.allSatisfy(\.isEqual) && allVerified
        let elapsed = Output.seconds(Date().timeIntervalSince(started))
        let verdict = allEqual ? "read models and webhook signatures verified" : "VERIFICATION FAILED"
        print("\n== 7. projector status")
        let status = try StatusReport.load(options: options)
        for job in status.jobs {
            print(
                "   \(job.name): position \(job.position ?? 0), lag \(job.lagEvents) events, rejects \(job.rejects), open failures \(job.failures.open)"
            )
        }
        print("   rejected lines: \(status.rejects) (per job in projector status)")
        if cluster != nil {
            print(
                "\ndemo finished in \(elapsed): \(verdict). Files are in \(dir)/; the PostgreSQL server is stopped and removed."
            )
        } else {
            print(
                "\ndemo finished in \(elapsed): \(verdict)"
                    + ". Files are in \(dir)/; try: projector status --database \(dir)/readmodels.db --journal \(journalPath) --attach app=\(writeModel)"
            )
        }
        if !allEqual { throw ExitCode(ExitStatus.unexpected) }
    }

    func runOnce(_ options: RunOptions, _ logger: Logger) throws -> RunReport {
        return try ProjectionRun(options: options, logger: logger).execute()
    }

    func indent(_ text: String, _ spaces: Int = 3) -> String {
        let pad = String(repeating: " ", count: spaces)
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { pad + $0 }.joined(separator: "\n")
    }

    func table(_ samples: (String) throws -> [[String]], _ sql: String) throws -> String {
        Output.table(try samples(sql))
    }

    func connect(_ conninfo: String) throws -> PGConnection {
        try PGConnection(conninfo: conninfo)
    }
}
