import Foundation
import PostgresClient
import PostgresStore
import TestSupport
import Testing

/// Several `projector run --watch` processes sharing an events table: they split the segments
/// between them, and when one is killed the other takes its segments over, every event applied
/// once (SPEC §10).
@Suite(.postgresServer, .serialized) struct PostgresRunnersProcessTests {
    static let ledgerJob = """
        -- dialect: postgres
        -- on: PING           key: aggregateId
        -- @setup
        CREATE TABLE IF NOT EXISTS ledger(event_id text PRIMARY KEY, aggregate_id text NOT NULL, version bigint,
            applied bigserial);
        -- @apply
        INSERT INTO ledger(event_id, aggregate_id, version) VALUES(:id, :aggregate_id, (:data->>'v')::bigint);
        """

    func append(_ range: ClosedRange<Int>, table: PGEventsTable, on connection: PGConnection) throws {
        try connection.execute("BEGIN")
        for i in range {
            let version = (i - 1) / 50 + 1
            try connection.query(
                table.insert,
                ["e\(i)", "PING", "agg", "a\(i % 50)", String(version), nil, #"{"v": \#(version)}"#, "{}"])
        }
        try connection.execute("COMMIT")
    }

    func waitFor(_ what: String, seconds: Double = 60, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while try !condition() {
            guard Date() < deadline else {
                Issue.record("timed out waiting for \(what)")
                return
            }
            usleep(100_000)
        }
    }

    @Test func twoRunnersShareTheSegmentsAndOneTakesOverWhenTheOtherIsKilled() throws {
        let database = try PostgresTestDatabase()
        let w = try Workspace(label: "projector-runners", jobs: ["ledger": Self.ledgerJob])
        let table = try #require(PGEventsTable("events"))
        let connection = try database.connect()
        try connection.execute(table.ddl)
        let flags = [
            "--database", database.conninfo, "--journal", "postgres:events", "--jobs-dir", w.jobsDirectory,
            "--log-level", "warning",
        ]
        let watch = ["run", "--watch", "--runner-timeout", "2", "--runner"]
        let first = try ChildProcess(watch + ["r1"] + flags)
        let second = try ChildProcess(watch + ["r2"] + flags)
        defer {
            first.kill9()
            second.kill9()
        }
        func count(_ sql: String) throws -> Int { try connection.query(sql).first?.int(0) ?? -1 }
        try waitFor("both runners to heartbeat", seconds: 120) {
            try count("SELECT CASE WHEN to_regclass('projector.runners') IS NULL THEN 0 ELSE 1 END") == 1
                && count("SELECT count(*) FROM projector.runners") == 2
        }
        #expect(first.isRunning && second.isRunning)
        usleep(1_500_000)  // each has seen the other (heartbeats every 0.5 s here)
        try append(1...500, table: table, on: connection)
        try waitFor("the first 500 events") { try count("SELECT count(*) FROM ledger") == 500 }
        // Both runners committed segments.
        #expect(try count("SELECT count(DISTINCT owner) FROM projector.segments WHERE owner IS NOT NULL") == 2)

        first.kill9()
        _ = first.wait()
        try append(501...1000, table: table, on: connection)
        try waitFor("the next 500 events after r1 was killed") { try count("SELECT count(*) FROM ledger") == 1000 }
        // r2 took r1's segments: every segment's latest commit is r2's once the stream moved on.
        try waitFor("r2 to own every segment") {
            try count("SELECT count(*) FROM projector.segments WHERE owner = 'r2'") == PGStore.segmentCount
        }
        #expect(try count("SELECT count(DISTINCT event_id) FROM ledger") == 1000)
        // Each aggregate's versions in order.
        #expect(
            try count(
                """
                SELECT count(*) FROM (SELECT version, row_number() OVER (PARTITION BY aggregate_id ORDER BY applied) AS n
                FROM ledger) AS t WHERE version <> n
                """) == 0)
        let status = try ChildProcess.run(["status"] + flags)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("1 runner(s) alive"), "\(status.stdout)")
        #expect(status.stdout.contains("rejected rows: 0"), "\(status.stdout)")

        // A one-shot run beside the watch takes its share, and writes the segments' gauges.
        let metricsPath = w.dir.file("projector.prom")
        let once = try ChildProcess.run(["run", "--metrics-file", metricsPath] + flags)
        #expect(once.status == 0, "\(once.stderr)")
        let metrics = try String(contentsOfFile: metricsPath, encoding: .utf8)
        #expect(metrics.contains("projector_segments_failing{job=\"ledger\"} 0"), "\(metrics)")
        #expect(metrics.contains("projector_runner_segments{runner=\"r2\"}"), "\(metrics)")
        #expect(metrics.contains("projector_journal_lag_events{job=\"ledger\"} 0"), "\(metrics)")

        // Commands that read a journal file say so on an events table.
        let prune = try ChildProcess.run(["journal", "prune"] + flags)
        #expect(prune.status == 64, "\(prune.stderr)")
        #expect(prune.stderr.contains("is an events table"), "\(prune.stderr)")
        // A mistyped table: status and validate say what a run says, a configuration error (78).
        let mistyped = flags.map { $0 == "postgres:events" ? "postgres:evnts" : $0 }
        for command in [["status"], ["validate"], ["run"]] {
            let outcome = try ChildProcess.run(command + mistyped)
            #expect(outcome.status == 78, "\(command): \(outcome.stderr)")
            #expect(outcome.stderr.contains("the events table evnts does not exist"), "\(outcome.stderr)")
        }
        // A segment's failure is in status, not among the journal keys' failures.
        for command in [["failures", "list"], ["failures", "retry", "--all"], ["failures", "discard", "--all-dead"]] {
            let failures = try ChildProcess.run(command + flags)
            #expect(failures.status == 64, "\(command): \(failures.stderr)")
            #expect(failures.stderr.contains("`projector status` shows it"), "\(failures.stderr)")
        }

        kill(second.pid, SIGTERM)
        let stopped = second.wait()
        #expect(stopped.status == 0, "\(stopped.stderr)")
    }
}
