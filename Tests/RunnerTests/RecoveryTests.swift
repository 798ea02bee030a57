import Foundation
import Logging
import ProjectorCore
import Runner
import SQLiteStore
import TestSupport
import Testing
import Webhooks

/// `replay` and `verify --repair` as an on-call engineer uses them: correct or refused, never
/// doubling a count, and consumers told what changed.
@Suite struct RecoveryTests {
    static var logger: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    func replay(_ f: Fixture, _ job: String, _ keys: [String]) throws(RunError) -> Int {
        var options = f.options
        options.selectedJobs = [job]
        return try ProjectionRun(options: options, logger: Self.logger, clock: f.clock).replay(keys: keys, from: nil)
    }

    @Test func replayOfACountingApplyJobIsRefusedAndChangesNothing() throws {
        let f = try Fixture()
        try f.append(f.ping("a", n: 1), f.ping("a", n: 2), f.ping("b", n: 3))
        try f.run()
        #expect(try f.scalar("SELECT count(*) FROM applied WHERE key = 'a'") == 2)
        do {
            _ = try replay(f, "log", ["a"])
            Issue.record("a replay of a non-idempotent apply job ran")
        } catch {
            guard case .usage(let message) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(message.contains("projector rebuild log"))
            #expect(message.contains("-- apply: idempotent"))
        }
        #expect(try f.scalar("SELECT count(*) FROM applied WHERE key = 'a'") == 2)
    }

    @Test func replayOfAnIdempotentApplyJobRestoresTheKey() throws {
        let f = try Fixture(jobs: [
            "latest": """
            -- on: PING key: aggregateId
            -- apply: idempotent
            -- @setup
            CREATE TABLE IF NOT EXISTS latest(key TEXT PRIMARY KEY, n INTEGER NOT NULL);
            -- @apply
            INSERT INTO latest(key, n) VALUES(:key, json_extract(:data, '$.n'))
            ON CONFLICT(key) DO UPDATE SET n = excluded.n;
            """
        ])
        try f.append(f.ping("a", n: 1), f.ping("a", n: 2), f.ping("b", n: 3))
        try f.run()
        try f.execute("DELETE FROM latest WHERE key = 'a'")
        #expect(try replay(f, "latest", ["a"]) == 2)
        #expect(try f.rows("SELECT key, n FROM latest ORDER BY key") == [["a", "2"], ["b", "3"]])
    }

    @Test func aReplayThatFailsChangesNothingAndNamesTheKey() throws {
        let f = try Fixture()
        try f.append(f.ping("x"), f.ping("y"))
        try f.run()
        try f.execute("INSERT INTO poison VALUES('y')")
        do {
            _ = try replay(f, "counter", ["x", "y"])
            Issue.record("the replay succeeded")
        } catch {
            guard case .keyFailed(let job, let key, _, let cause) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(job == "counter" && key == "y" && cause.message.contains("poisoned key"))
        }
        // x was refreshed inside the same transaction, which was rolled back.
        #expect(try f.rows("SELECT key, n FROM refreshes ORDER BY key") == [["x", "1"], ["y", "1"]])
        #expect(try f.scalar("SELECT count(*) FROM projector_runs WHERE outcome = 'running'") == 0)
    }

    @Test func replayAndSampledRepairNotifyTheKeysTheyChanged() throws {
        let f = try Fixture(jobs: DependencyTests.jobs.filter { $0.key == "totals" })
        f.options.endpoints = [
            WebhookEndpoint(
                name: "cache", url: "http://127.0.0.1:9/hook", secrets: [try WebhookSecret(WebhookSecret.generate())],
                jobs: ["*"], allowHTTP: true)
        ]
        f.options.deliverWebhooks = false
        try f.execute("CREATE TABLE src(key TEXT PRIMARY KEY, v INTEGER NOT NULL)")
        try f.execute("INSERT INTO src VALUES('a', 1), ('b', 1), ('c', 1)")
        try f.append(f.ping("a"), f.ping("b"), f.ping("c"))
        try f.run()
        let before = try f.scalar("SELECT count(*) FROM projector_webhook_outbox")

        try f.execute("UPDATE src SET v = 9 WHERE key = 'b'")
        _ = try replay(f, "totals", ["b"])
        let replayed = try f.rows("SELECT CAST(body AS TEXT) FROM projector_webhook_outbox ORDER BY id").dropFirst(
            before)
        #expect(replayed.count == 1)
        #expect(replayed.first?.first?.contains(#""keys":["b"]"#) == true)

        try f.execute("UPDATE totals SET v = 0 WHERE key = 'c'")
        let report = try Verify(options: f.options, logger: Self.logger, clock: f.clock).execute(
            job: "totals", sample: 10, repair: true)
        #expect(report.driftedKeys == ["c"] && report.repaired)
        #expect(try f.rows("SELECT v FROM totals WHERE key = 'c'") == [["1"]])
        let repaired = try f.rows("SELECT CAST(body AS TEXT) FROM projector_webhook_outbox ORDER BY id").dropFirst(
            before + 1)
        #expect(repaired.count == 1)
        #expect(repaired.first?.first?.contains(#""keys":["c"]"#) == true)
    }
}

extension RecoveryTests {
    @Test func keysRecoveredByARetryAreNotified() throws {
        let f = try Fixture(jobs: ["counter": Fixture.refreshJob])
        f.options.endpoints = [
            WebhookEndpoint(
                name: "cache", url: "http://127.0.0.1:9/hook", secrets: [try WebhookSecret(WebhookSecret.generate())],
                jobs: ["*"], allowHTTP: true)
        ]
        f.options.deliverWebhooks = false
        try f.run()
        try f.execute("INSERT INTO poison VALUES('13')")
        try f.append(f.ping("12"), f.ping("13"))
        #expect(try f.run().failures == 1)
        let before = try f.scalar("SELECT count(*) FROM projector_webhook_outbox")

        // The cause is gone; the next run retries the key after its backoff, with no new event.
        try f.execute("DELETE FROM poison")
        f.clock.time += 100_000
        let report = try f.run()
        #expect(report.recovered == 1)
        let bodies = try f.rows("SELECT CAST(body AS TEXT) FROM projector_webhook_outbox ORDER BY id").dropFirst(before)
        #expect(bodies.count == 1)
        #expect(bodies.first?.first?.contains(#""keys":["13"]"#) == true)
    }
}

@Suite struct SetupDriftTests {
    static func job(guarded: Bool) -> String {
        """
        -- on: PING key: aggregateId
        -- @setup
        CREATE TABLE IF NOT EXISTS scores(key TEXT PRIMARY KEY, n INTEGER\(guarded ? " CHECK (n < 10)" : ""));
        \(guarded ? "CREATE TRIGGER IF NOT EXISTS scores_no_x BEFORE INSERT ON scores WHEN NEW.key = 'x'\nBEGIN SELECT raise(ABORT, 'no x'); END;" : "")
        -- @refresh
        DELETE FROM scores WHERE key = :key;
        INSERT INTO scores(key, n) SELECT key, v FROM src WHERE key = :key;
        """
    }

    @Test func aTriggerOrCheckRemovedFromSetupIsNamedByValidateAndGoneAfterARebuild() throws {
        let f = try Fixture(jobs: ["scores": Self.job(guarded: true)])
        try f.execute("CREATE TABLE src(key TEXT PRIMARY KEY, v INTEGER NOT NULL)")
        try f.execute("INSERT INTO src VALUES('x', 1), ('y', 20), ('z', 3)")
        try f.append(f.ping("x"), f.ping("y"), f.ping("z"))
        #expect(try f.run().failures == 2)

        // The author removes the trigger and the CHECK from @setup: the database keeps both.
        try f.dir.write("jobs/scores.sql", Self.job(guarded: false))
        let validation = ProjectionRun(options: f.options, logger: RecoveryTests.logger, clock: f.clock)
        _ = try validation.validate()
        let messages = validation.setupDrift.map(\.description)
        #expect(messages.count == 2, "\(messages)")
        #expect(
            messages.contains {
                $0.contains("trigger 'scores_no_x' on table 'scores' is in the database but not in @setup")
            })
        #expect(messages.contains { $0.contains("table 'scores' in the database differs from @setup") })
        #expect(messages.allSatisfy { $0.hasPrefix(f.dir.file("jobs/scores.sql") + ":2: warning:") })
        _ = try FailureAdmin(databasePath: f.options.databasePath).retry(job: nil, key: nil, now: f.clock.now())
        #expect(try f.run().failures == 2)

        // The way out the warning names: a rebuild recreates the tables from @setup.
        _ = try Rebuild(options: f.options, logger: RecoveryTests.logger, clock: f.clock).execute(jobs: ["scores"])
        let after = ProjectionRun(options: f.options, logger: RecoveryTests.logger, clock: f.clock)
        _ = try after.validate()
        #expect(after.setupDrift.isEmpty)
        #expect(try f.rows("SELECT key, n FROM scores ORDER BY key") == [["x", "1"], ["y", "20"], ["z", "3"]])
        #expect(try f.scalar("SELECT count(*) FROM projector_failures") == 0)
        #expect(try f.run().outcome.isClean)
    }
}

@Suite struct RunHistoryTests {
    @Test func theRunsTableKeepsABoundedHistory() throws {
        let f = try Fixture()
        try f.run()
        // Given as many recent runs as a long busy `run --watch` records,
        let last = RunnerStore.runsKept + 40
        try f.execute("INSERT INTO projector_runs(id, started_at) VALUES(\(last), \(f.clock.time))")
        // the next run drops the oldest beyond the bound.
        try f.run()
        #expect(try f.scalar("SELECT count(*) FROM projector_runs") == 2)
        #expect(try f.scalar("SELECT min(id) FROM projector_runs") == last)
    }
}
