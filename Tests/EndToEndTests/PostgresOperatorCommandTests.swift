import Foundation
import Journal
import PostgresClient
import TestSupport
import Testing
import Webhooks

/// The operator's commands on a PostgreSQL database, through the built binary as an operator runs
/// them: the same behaviour and output as on SQLite (a real server from `scripts/test`).
@Suite(.postgresServer) struct PostgresOperatorCommandTests {
    /// An apply job whose event fails while its id is in `poison`, notifying two endpoints that
    /// refuse connections: `down` retries (pending), `gone` gives up after one attempt (dead).
    static let logJob = """
        -- dialect: postgres
        -- on: PING  key: aggregateId
        -- webhooks: down, gone
        -- @setup
        CREATE TABLE IF NOT EXISTS seen(id text);
        CREATE TABLE IF NOT EXISTS poison(id text PRIMARY KEY);
        CREATE OR REPLACE FUNCTION seen_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM poison WHERE id = NEW.id) THEN RAISE EXCEPTION 'poisoned'; END IF;
            RETURN NEW;
        END $$;
        CREATE OR REPLACE TRIGGER seen_poison BEFORE INSERT ON seen FOR EACH ROW EXECUTE FUNCTION seen_poison();
        -- @apply
        INSERT INTO seen(id) VALUES(:id);
        """

    static let counterJob = """
        -- dialect: postgres
        -- on: PING  key: aggregateId
        -- @setup
        CREATE TABLE IF NOT EXISTS counts(key text PRIMARY KEY, n bigint NOT NULL);
        -- @refresh
        INSERT INTO counts(key, n) VALUES(:key, 1) ON CONFLICT (key) DO UPDATE SET n = counts.n + 1;
        """

    /// A database, a workspace reaching it through a configuration file, and the endpoints' port.
    final class Setup {
        let database: PostgresTestDatabase
        let workspace: Workspace
        let closed: ClosedPort
        let connection: PGConnection
        /// Every command's output, to check that no password ever shows.
        var outputs: [String] = []

        init(journal: String? = nil) throws {
            database = try PostgresTestDatabase()
            workspace = try Workspace(
                label: "projector-pg-op", jobs: ["log": logJob, "counter": counterJob])
            closed = try ClosedPort()
            connection = try database.connect()
            try workspace.dir.write("hook.secret", WebhookSecret.generate() + "\n")
            let url = "http://127.0.0.1:\(closed.port)/hook"
            try workspace.configure(
                #"""
                {"database": "\#(database.conninfo)", "journal": "\#(journal ?? workspace.journalPath)",
                 "jobsDir": "\#(workspace.jobsDirectory)",
                 "webhooks": {
                    "down": {"url": "\#(url)", "allowHTTP": true, "secretFile": "hook.secret"},
                    "gone": {"url": "\#(url)", "allowHTTP": true, "secretFile": "hook.secret", "maxAttempts": 1}}}
                """#)
        }

        /// A run with key `p` parked on event `p1` (held with `p2` behind it), a rejected line and a
        /// notification to each endpoint.
        func runWithAParkedKey(_ extra: [String] = []) throws -> ChildProcess.Outcome {
            try connection.execute(
                "CREATE TABLE poison(id text PRIMARY KEY); INSERT INTO poison VALUES('p1')")
            try workspace.append(lines: [
                Events.line(type: "PING", aggregateId: "a", id: "a1"),
                Events.line(type: "PING", aggregateId: "p", id: "p1"),
                Events.line(type: "PING", aggregateId: "p", id: "p2"), "{not json",
            ])
            return try projector(["run"] + extra)
        }

        func projector(_ command: [String]) throws -> ChildProcess.Outcome {
            let outcome = try workspace.projector(command)
            outputs += [outcome.stdout, outcome.stderr]
            return outcome
        }

        func rows(_ sql: String) throws -> [[String]] {
            let result = try connection.query(sql)
            return result.map { row in (0..<result.columnCount).map { row.string($0) ?? "NULL" } }
        }

        func json(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }

        /// The test server's password appears in no output.
        func expectNoPassword() throws {
            let password = try PostgresTestServer.password()
            #expect(!password.isEmpty)
            for output in outputs { #expect(!output.contains(password)) }
        }
    }

    @Test func statusAfterARunShowsTheParkedKeyTheRejectAndTheNotifications() throws {
        let s = try Setup()
        let run = try s.runWithAParkedKey()
        #expect(run.status == 65, "\(run.stderr)")

        let status = try s.projector(["status"])
        #expect(status.status == 0, "\(status.stderr)")
        let log = status.stdout.split(separator: "\n").first { $0.hasPrefix("log ") }.map(String.init) ?? ""
        #expect(log.contains("1 (2 held)"), "\(status.stdout)")
        #expect(status.stdout.contains("rejected lines: 1"), "\(status.stdout)")
        #expect(status.stdout.contains("webhooks: pending 1, delivered 0, dead 1, disabled 0"), "\(status.stdout)")
        #expect(status.stdout.contains("failed attempts, failures (exit 65)"), "\(status.stdout)")

        let json = try s.projector(["status", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let report = try #require(try s.json(json.stdout) as? [String: Any])
        let jobs = try #require(report["jobs"] as? [[String: Any]])
        let logJob = try #require(jobs.first { $0["name"] as? String == "log" })
        let failures = try #require(logJob["failures"] as? [String: Int])
        #expect(failures == ["retrying": 0, "parked": 1, "dead": 0, "held": 2])
        let end = try Journal(path: s.workspace.journalPath).end
        #expect(logJob["position"] as? Int == end)
        #expect(report["rejects"] as? Int == 1)
        #expect(report["webhooks"] as? [String: Int] == ["pending": 1, "dead": 1])
        let lastRun = try #require(report["lastRun"] as? [String: Any])
        #expect(lastRun["exitCode"] as? Int == 65)
        #expect(lastRun["outcome"] as? String == "failures")
        #expect((report["duplicateIDs"] as? [String: Any])?["remembered"] as? Int == 3)
        try s.expectNoPassword()
    }

    @Test func failuresListRetryAndDiscard() throws {
        let s = try Setup()
        #expect(try s.runWithAParkedKey().status == 65)

        let list = try s.projector(["failures", "list"])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.contains("SQLSTATE P0001: poisoned"), "\(list.stdout)")
        let listed = try #require(
            try s.json(try s.projector(["failures", "list", "--json"]).stdout) as? [[String: Any]])
        #expect(listed.count == 1)
        #expect(listed.first?["key"] as? String == "p")
        #expect(listed.first?["state"] as? String == "parked")
        #expect(listed.first?["heldEvents"] as? Int == 2)
        #expect(try s.projector(["failures", "list", "--state", "dead"]).stdout.split(separator: "\n").count == 1)

        try s.connection.execute("UPDATE projector.failures SET attempts = 3, next_attempt_at = 1e12")
        let retry = try s.projector(["failures", "retry", "--job", "log", "--key", "p"])
        #expect(retry.status == 0, "\(retry.stderr)")
        #expect(retry.stdout.contains("1 failure(s) will be retried by the next run"), "\(retry.stdout)")
        #expect(
            try s.rows("SELECT attempts, next_attempt_at < 1e12, state FROM projector.failures") == [
                ["0", "t", "parked"]
            ])

        let dry = try s.projector(["failures", "discard", "--job", "log", "--key", "p", "--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("log key p: parked after 0 attempt(s)"), "\(dry.stdout)")
        #expect(dry.stdout.contains("would discard 1 failure(s) and 2 held event(s); nothing changed"), "\(dry.stdout)")
        #expect(try s.rows("SELECT key FROM projector.failures") == [["p"]])
        let discard = try s.projector(["failures", "discard", "--job", "log", "--key", "p"])
        #expect(discard.status == 0, "\(discard.stderr)")
        #expect(discard.stdout.contains("discarded 1 failure(s) and 2 held event(s)"), "\(discard.stdout)")
        #expect(try s.rows("SELECT count(*) FROM projector.failures") == [["0"]])
        #expect(try s.rows("SELECT count(*) FROM projector.held_events") == [["0"]])
        try s.expectNoPassword()
    }

    @Test func failuresCommandsDoNotWaitForARunsOpenBatch() throws {
        let s = try Setup()
        #expect(try s.runWithAParkedKey().status == 65)
        // A run's batch in progress: its transaction has written to the outbox and not committed.
        let run = try s.database.connect()
        try run.execute(
            """
            BEGIN;
            INSERT INTO projector.webhook_outbox(message_id, endpoint, job, body, state, created_at, next_attempt_at)
            VALUES('m', 'down', 'log', '\\x00', 'pending', 1, 1)
            """)
        defer { try? run.execute("ROLLBACK") }
        let timeout = ["PGOPTIONS": "-c lock_timeout=3s"]
        for command in [["failures", "list"], ["failures", "retry", "--all"], ["failures", "discard", "--all-dead"]] {
            let outcome = try s.workspace.projector(command, environment: timeout)
            #expect(outcome.status == 0, "\(command): \(outcome.stderr)")
        }
    }

    @Test func webhooksListAndRetry() throws {
        let s = try Setup()
        #expect(try s.runWithAParkedKey().status == 65)

        let list = try s.projector(["webhooks", "list"])
        #expect(list.status == 0, "\(list.stderr)")
        let lines = list.stdout.split(separator: "\n")
        #expect(lines.count == 3, "\(list.stdout)")
        #expect(lines.contains { $0.contains(" gone ") && $0.contains(" dead ") }, "\(list.stdout)")
        #expect(lines.contains { $0.contains(" down ") && $0.contains(" pending ") }, "\(list.stdout)")
        let dead = try #require(
            try s.json(try s.projector(["webhooks", "list", "--state", "dead", "--json"]).stdout) as? [[String: Any]])
        #expect(dead.count == 1)
        #expect(dead.first?["endpoint"] as? String == "gone")

        let retry = try s.projector(["webhooks", "retry", "--all-dead"])
        #expect(retry.status == 0, "\(retry.stderr)")
        #expect(retry.stdout.contains("1 notification(s) pending again"), "\(retry.stdout)")
        #expect(
            try s.rows("SELECT endpoint, state, attempts FROM projector.webhook_outbox ORDER BY endpoint")
                == [["down", "pending", "1"], ["gone", "pending", "0"]])
        let byID = try s.projector(
            ["webhooks", "retry", "--deliver"] + dead.compactMap { ($0["id"] as? Int).map(String.init) })
        #expect(byID.status == 0, "\(byID.stderr)")
        #expect(byID.stdout.contains("1 notification(s) pending again"), "\(byID.stdout)")
        #expect(byID.stdout.contains("delivered 0, retrying 0, dead 1"), "\(byID.stdout)")
        try s.expectNoPassword()
    }

    @Test func theMetricsFileAddsUpTheRunsKeptInTheDatabase() throws {
        let s = try Setup()
        let metrics = s.workspace.dir.file("projector.prom")
        #expect(try s.runWithAParkedKey(["--metrics-file", metrics]).status == 65)
        try s.workspace.append(lines: [Events.line(type: "PING", aggregateId: "b", id: "b1")])
        #expect(try s.projector(["run", "--metrics-file", metrics]).status == 0)
        let text = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(text.contains("projector_events_processed_total 4\n"), "\(text)")
        #expect(text.contains("projector_rejects_total 1\n"), "\(text)")
        #expect(text.contains(#"projector_runs_total{outcome="failures"} 1"#), "\(text)")
        #expect(text.contains(#"projector_runs_total{outcome="ok"} 1"#), "\(text)")
        #expect(text.contains("projector_last_run_exit_code 0\n"), "\(text)")
        #expect(text.contains(#"projector_journal_lag_events{job="log"} 0"#), "\(text)")
        #expect(try s.rows("SELECT count(*) > 0 FROM projector.metrics") == [["t"]])
        try s.expectNoPassword()
    }

    @Test func replayRefreshesAKeyOnPostgreSQL() throws {
        let s = try Setup()
        #expect(try s.runWithAParkedKey().status == 65)
        let replay = try s.projector(["replay", "counter", "--aggregate", "a"])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stdout.contains("replayed counter key a: 1 execution(s)"), "\(replay.stdout)")
        #expect(try s.rows("SELECT n FROM counts WHERE key = 'a'") == [["2"]])
    }

    @Test func pruneKeepsTheSegmentOfAHeldEventUntilItIsDiscarded() throws {
        let directory = TemporaryDirectory("projector-pg-prune")
        let s = try Setup(journal: directory.file("journal"))
        try s.connection.execute("CREATE TABLE poison(id text PRIMARY KEY); INSERT INTO poison VALUES('p1')")
        // Three segments: the parked key's held event in the first.
        var start = 0
        for ids in [["p1", "a1"], ["a2"], ["a3"]] {
            let text = ids.map { Events.line(type: "PING", aggregateId: String($0.prefix(1)), id: $0) + "\n" }.joined()
            try directory.write("journal/" + Segment.fileName(for: start), text)
            start += text.utf8.count
        }
        #expect(try s.projector(["run"]).status == 65)
        let kept = try s.projector(["journal", "prune"])
        #expect(kept.status == 0, "\(kept.stderr)")
        #expect(try Journal(path: directory.file("journal")).segments.count == 3)
        #expect(try s.projector(["failures", "discard", "--job", "log", "--key", "p"]).status == 0)
        let pruned = try s.projector(["journal", "prune"])
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(try Journal(path: directory.file("journal")).segments.count == 1)
    }

    @Test func aDatabaseNoRunHasUsedIs66() throws {
        let s = try Setup()
        try s.workspace.append(lines: [Events.line(type: "PING", aggregateId: "a", id: "a1")])
        for command in [
            ["status"], ["status", "--json"], ["failures", "list"], ["failures", "retry", "--all"],
            ["failures", "discard", "--all-dead"], ["webhooks", "list"], ["webhooks", "retry", "--all-dead"],
            ["replay", "counter", "--aggregate", "a"], ["journal", "prune"], ["verify", "log"],
        ] {
            let outcome = try s.projector(command)
            #expect(outcome.status == 66, "\(command): \(outcome.stdout) \(outcome.stderr)")
            #expect(
                outcome.stderr.contains(
                    "the database (no run has created it here) does not exist: \(s.database.conninfo)"),
                "\(command): \(outcome.stderr)")
        }
        #expect(try s.rows("SELECT to_regnamespace('projector') IS NULL") == [["t"]], "a reading command created it")
        try s.expectNoPassword()
    }

    @Test func anUnreachableServerIs75ForTheOperatorCommandsAsForARun() throws {
        let w = try Workspace(label: "projector-pg-op", jobs: ["counter": Self.counterJob])
        let closed = try ClosedPort()
        let database = "host=127.0.0.1 port=\(closed.port) dbname=projector"
        for command in [["status"], ["failures", "list"], ["webhooks", "list"], ["run"]] {
            let outcome = try ChildProcess.run(
                command + ["--database", database, "--journal", w.journalPath, "--jobs-dir", w.jobsDirectory])
            #expect(outcome.status == 75, "\(command): \(outcome.stderr)")
            #expect(outcome.stderr.contains("port=\(closed.port)"), "\(command): \(outcome.stderr)")
        }
    }

    @Test func aPasswordInTheURLIsRefusedByEveryOperatorCommandAndNeverPrinted() throws {
        let w = try Workspace(label: "projector-pg-op", jobs: ["counter": Self.counterJob])
        let url = "postgres://projector:hunter2-secret@127.0.0.1/projector"
        for command in [
            ["status"], ["failures", "list"], ["webhooks", "list"], ["journal", "prune"], ["verify", "counter"],
        ] {
            let outcome = try ChildProcess.run(
                command + ["--database", url, "--journal", w.journalPath, "--jobs-dir", w.jobsDirectory])
            #expect(outcome.status == 64, "\(command): \(outcome.stderr)")
            #expect(!(outcome.stdout + outcome.stderr).contains("hunter2-secret"), "\(command): \(outcome.stderr)")
        }
    }
}
