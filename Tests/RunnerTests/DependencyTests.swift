import Foundation
import Logging
import ProjectorCore
import Runner
import SQLiteStore
import TestSupport
import Testing

/// Jobs that read other jobs' tables (`after:`): a dependent job never keeps a result computed
/// from upstream rows that were stale, whether the upstream was not run or one of its keys failed.
@Suite struct DependencyTests {
    /// `totals` copies the write model's `src`; `doubled` (refresh) and `ledger` (apply) read `totals`.
    static let jobs = [
        "totals": """
        -- on: PING key: aggregateId
        -- @setup
        CREATE TABLE IF NOT EXISTS totals(key TEXT PRIMARY KEY, v INTEGER NOT NULL);
        -- @refresh
        DELETE FROM totals WHERE key = :key;
        INSERT INTO totals(key, v) SELECT key, v FROM src WHERE key = :key;
        -- @keys
        SELECT key FROM src
        """,
        "doubled": """
        -- on: PING key: aggregateId
        -- after: totals
        -- @setup
        CREATE TABLE IF NOT EXISTS doubled(key TEXT PRIMARY KEY, v INTEGER NOT NULL);
        -- @refresh
        DELETE FROM doubled WHERE key = :key;
        INSERT INTO doubled(key, v) SELECT key, v * 2 FROM totals WHERE key = :key;
        """,
        "ledger": """
        -- on: PING key: aggregateId
        -- after: totals
        -- @setup
        CREATE TABLE IF NOT EXISTS ledger(position INTEGER PRIMARY KEY, key TEXT NOT NULL, seen INTEGER);
        -- @apply
        INSERT INTO ledger(position, key, seen) VALUES(:position, :key, (SELECT v FROM totals WHERE key = :key));
        """,
    ]

    static func fixture() throws -> Fixture {
        let f = try Fixture(jobs: jobs)
        try f.execute("CREATE TABLE src(key TEXT PRIMARY KEY, v INTEGER NOT NULL)")
        try f.execute("INSERT INTO src VALUES('a', 1), ('b', 1)")
        try f.append(f.ping("a"), f.ping("b"))
        #expect(try f.run().outcome.isClean)
        #expect(try f.rows("SELECT key, v FROM doubled ORDER BY key") == [["a", "2"], ["b", "2"]])
        return f
    }

    func verify(_ f: Fixture, _ job: String) throws -> Verify.Report {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return try Verify(options: f.options, logger: logger, clock: f.clock).execute(
            job: job, sample: nil, repair: false)
    }

    @Test func runningADependentJobAloneRunsItsUpstreamJobsFirst() throws {
        let f = try Self.fixture()
        try f.execute("UPDATE src SET v = 7 WHERE key = 'a'")
        try f.append(f.ping("a"))

        let report = try f.run { $0.selectedJobs = ["doubled"] }

        #expect(report.outcome.isClean)
        #expect(Set(report.jobs.map(\.name)) == ["totals", "doubled"])
        #expect(try f.rows("SELECT v FROM doubled WHERE key = 'a'") == [["14"]])
        #expect(try f.scalar("SELECT count(DISTINCT position) FROM projector_checkpoints WHERE job <> 'ledger'") == 1)
        #expect(try !verify(f, "doubled").drifted)
    }

    @Test func aDependentKeyWaitsForItsFailedUpstreamKeyAndIsRedoneWhenItRecovers() throws {
        let f = try Self.fixture()
        // Given an upstream key that fails (a trigger added by hand)…
        try f.execute(
            "CREATE TRIGGER totals_b BEFORE INSERT ON totals WHEN NEW.key = 'b' BEGIN SELECT raise(ABORT, 'no b'); END")
        try f.execute("UPDATE src SET v = 5")
        try f.append(f.ping("a"), f.ping("b"))
        let failed = try f.run()
        #expect(failed.outcome.isClean == false)
        #expect(failed.failures == 1)
        // …the dependent keys of the same events are held back, not computed from the stale row.
        #expect(try f.rows("SELECT v FROM totals ORDER BY key") == [["5"], ["1"]])
        #expect(try f.rows("SELECT key, v FROM doubled ORDER BY key") == [["a", "10"], ["b", "2"]])
        let bEvent = try f.scalar("SELECT max(position) FROM ledger WHERE key = 'a'") + 1
        #expect(try f.scalar("SELECT count(*) FROM ledger WHERE key = 'b'") == 1)
        #expect(
            try f.rows("SELECT job, key, state, attempts FROM projector_failures ORDER BY job")
                == [
                    ["doubled", "b", "retrying", "0"], ["ledger", "b", "parked", "0"],
                    ["totals", "b", "retrying", "1"],
                ])
        #expect(try f.scalar("SELECT count(*) FROM projector_held_events WHERE job = 'ledger'") == 1)

        // A later event for the key while the upstream still fails keeps it waiting.
        f.clock.time += 100_000
        try f.append(f.ping("b"))
        #expect(try f.run().outcome.isClean == false)
        #expect(try f.rows("SELECT v FROM doubled WHERE key = 'b'") == [["2"]])
        #expect(try f.scalar("SELECT count(*) FROM ledger WHERE key = 'b'") == 1)

        // When the cause is gone and the operator retries, the upstream and then its dependents are redone.
        try f.execute("DROP TRIGGER totals_b")
        _ = try FailureAdmin(databasePath: f.options.databasePath).retry(job: nil, key: nil, now: f.clock.now())
        let recovered = try f.run()
        #expect(recovered.outcome.isClean)
        #expect(try f.rows("SELECT key, v FROM doubled ORDER BY key") == [["a", "10"], ["b", "10"]])
        #expect(try f.rows("SELECT seen FROM ledger WHERE key = 'b' ORDER BY position") == [["1"], ["5"], ["5"]])
        #expect(try f.scalar("SELECT count(*) FROM ledger WHERE key = 'b' AND position >= \(bEvent)") == 2)
        #expect(try f.scalar("SELECT count(*) FROM projector_failures") == 0)
        #expect(try f.scalar("SELECT count(*) FROM projector_failure_waits") == 0)
        #expect(try !verify(f, "doubled").drifted)
        #expect(try !verify(f, "totals").drifted)
    }

    @Test func anUpstreamKeyFixedByANewEventReleasesItsDependentsInTheSameRun() throws {
        let f = try Self.fixture()
        try f.execute(
            "CREATE TRIGGER totals_b BEFORE INSERT ON totals WHEN NEW.key = 'b' BEGIN SELECT raise(ABORT, 'no b'); END")
        try f.execute("UPDATE src SET v = 3 WHERE key = 'b'")
        try f.append(f.ping("b"))
        #expect(try f.run().outcome.isClean == false)
        try f.execute("DROP TRIGGER totals_b")
        // The upstream key succeeds on a new event (before its backoff is over).
        try f.append(f.ping("b"))
        #expect(try f.run().outcome.isClean)
        #expect(try f.rows("SELECT v FROM doubled WHERE key = 'b'") == [["6"]])
        #expect(try f.scalar("SELECT count(*) FROM projector_failures") == 0)
    }

    @Test func aDependentRefreshJobAheadOfANewUpstreamJobRefreshesItsKeysAgain() throws {
        // Given a job reading a table nobody maintained yet…
        let f = try Fixture(jobs: [
            "doubled": """
            -- on: PING key: aggregateId
            -- @setup
            CREATE TABLE IF NOT EXISTS doubled(key TEXT PRIMARY KEY, v INTEGER NOT NULL);
            -- @refresh
            DELETE FROM doubled WHERE key = :key;
            INSERT INTO doubled(key, v) SELECT key, n * 2 FROM counts WHERE key = :key;
            """
        ])
        try f.execute("CREATE TABLE counts(key TEXT PRIMARY KEY, n INTEGER NOT NULL)")
        try f.append(f.ping("a"), f.ping("a"), f.ping("a"))
        try f.run()
        #expect(try f.scalar("SELECT count(*) FROM doubled") == 0)
        // …when the job that maintains it arrives and the first one names it under after:,
        try f.execute("DROP TABLE counts")
        try f.dir.write(
            "jobs/counts.sql",
            """
            -- on: PING key: aggregateId
            -- @setup
            CREATE TABLE IF NOT EXISTS counts(key TEXT PRIMARY KEY, n INTEGER NOT NULL);
            -- @apply
            INSERT INTO counts(key, n) VALUES(:key, 1) ON CONFLICT(key) DO UPDATE SET n = n + 1;
            """)
        let text = try String(contentsOfFile: f.dir.file("jobs/doubled.sql"), encoding: .utf8)
        try f.dir.write("jobs/doubled.sql", "-- after: counts\n" + text)
        #expect(try f.run().outcome.isClean)
        // then the dependent job's keys are refreshed from the upstream's rows, not left behind.
        #expect(try f.rows("SELECT key, v FROM doubled") == [["a", "6"]])
    }

    @Test func discardingTheUpstreamFailureTellsTheWaitingKeyItIsRedoneNext() throws {
        let f = try Self.fixture()
        try f.execute(
            "CREATE TRIGGER totals_b BEFORE INSERT ON totals WHEN NEW.key = 'b' BEGIN SELECT raise(ABORT, 'no b'); END")
        try f.execute("UPDATE src SET v = 4 WHERE key = 'b'")
        try f.append(f.ping("b"))
        #expect(try f.run().outcome.isClean == false)
        #expect(
            try f.rows("SELECT error FROM projector_failures WHERE job = 'doubled'").first?.first?.hasPrefix(
                "waits for upstream totals key b") == true)
        // The operator gives up on the upstream key: the dependent key no longer claims to wait for it.
        _ = try FailureAdmin(databasePath: f.options.databasePath).discard(job: "totals", key: "b", onlyDead: false)
        #expect(
            try f.rows("SELECT error FROM projector_failures WHERE job = 'doubled'")
                == [["upstream totals key b no longer fails; the next run redoes this key"]])
        #expect(try f.run().outcome.isClean)
        #expect(try f.scalar("SELECT count(*) FROM projector_failures WHERE job = 'doubled'") == 0)
    }
}
