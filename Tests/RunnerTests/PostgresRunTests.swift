import Foundation
import PostgresClient
import PostgresStore
import ProjectorCore
import Runner
import TestSupport
import Testing

/// A run on PostgreSQL (SPEC §10): the same jobs' guarantees as on SQLite, against a real server
/// (`scripts/test` starts one; plain `swift test` skips these and says why).
final class PostgresFixture: RunFixture {
    let database: PostgresTestDatabase
    let workspace: Workspace
    let clock = ManualClock()
    var options: RunOptions
    let connection: PGConnection

    static let refreshJob = """
        -- dialect: postgres
        -- on: PING           key: aggregateId
        -- on: PONG           key: data.target
        -- @setup
        CREATE TABLE IF NOT EXISTS refreshes(key text PRIMARY KEY, n bigint NOT NULL);
        CREATE TABLE IF NOT EXISTS poison(key text PRIMARY KEY);
        CREATE TABLE IF NOT EXISTS poisoned(key text CONSTRAINT poisoned_key CHECK (false));
        -- @refresh
        INSERT INTO refreshes(key, n) VALUES(:key, 1) ON CONFLICT (key) DO UPDATE SET n = refreshes.n + 1;
        INSERT INTO poisoned(key) SELECT key FROM poison WHERE key = :key;
        """

    static let applyJob = """
        -- dialect: postgres
        -- on: PING, PONG     key: aggregateId
        -- @setup
        CREATE TABLE IF NOT EXISTS applied(
            seq bigserial PRIMARY KEY, key text, position bigint, id text, type text, n bigint, occurred_at text,
            meta text);
        CREATE TABLE IF NOT EXISTS poison_events(id text PRIMARY KEY);
        CREATE OR REPLACE FUNCTION applied_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM poison_events WHERE id = NEW.id) THEN RAISE EXCEPTION 'poisoned event'; END IF;
            RETURN NEW;
        END $$;
        CREATE OR REPLACE TRIGGER applied_poison BEFORE INSERT ON applied
            FOR EACH ROW EXECUTE FUNCTION applied_poison();
        -- @apply
        INSERT INTO applied(key, position, id, type, n, occurred_at, meta)
        VALUES(:key, :position, :id, :type, (:data->>'n')::bigint, :occurred_at, :metadata->>'user');
        """

    init(jobs: [String: String] = ["counter": refreshJob, "log": applyJob]) throws {
        database = try PostgresTestDatabase()
        workspace = try Workspace(label: "projector-pg", jobs: jobs)
        options = RunOptions(
            databasePath: database.conninfo, journalPath: workspace.journalPath,
            jobsDirectory: workspace.jobsDirectory)
        options.retry = RetryPolicy(baseDelay: 10, maxDelay: 1000, maxAttempts: 3)
        connection = try database.connect()
    }

    func append(_ lines: String...) throws { try workspace.append(lines: lines) }

    func ping(_ key: String, id: String? = nil, n: Int = 0, type: String = "PING") -> String {
        Fixture.ping(key, id: id, n: n, type: type)
    }

    @discardableResult
    func run(_ configure: (inout RunOptions) -> Void = { _ in }) throws(RunError) -> RunReport {
        try Fixture.run(options, clock: clock, configure)
    }

    func rows(_ sql: String) throws -> [[String]] {
        let result = try connection.query(sql)
        return result.map { row in (0..<result.columnCount).map { row.string($0) ?? "NULL" } }
    }

    func scalar(_ sql: String) throws -> Int { try connection.query(sql).first?.int(0) ?? -1 }

    func execute(_ sql: String) throws { try connection.execute(sql) }

    func runnerTable(_ name: String) -> String { "projector.\(name)" }
}

@Suite(.postgresServer) struct PostgresRunTests {
    @Test func aRunAppliesRefreshesAndCheckpointsEachEventOnce() throws {
        let f = try PostgresFixture()
        try f.append(f.ping("a", id: "e1", n: 1), f.ping("b", id: "e2", n: 2), f.ping("a", id: "e3", n: 3))
        let first = try f.run()
        #expect(first.events == 3)
        #expect(try f.rows("SELECT key, n FROM refreshes ORDER BY key") == [["a", "1"], ["b", "1"]])
        #expect(
            try f.rows("SELECT key, id, n FROM applied ORDER BY seq") == [
                ["a", "e1", "1"], ["a", "e3", "3"], ["b", "e2", "2"],
            ])
        #expect(try f.scalar("SELECT count(*) FROM projector.checkpoints") == 2)
        // Nothing new: nothing applied again.
        let idle = try f.run()
        #expect(idle.events == 0)
        #expect(try f.scalar("SELECT count(*) FROM applied") == 3)
        // New events only.
        try f.append(f.ping("b", id: "e4", n: 4))
        try f.run()
        #expect(try f.rows("SELECT key, n FROM refreshes ORDER BY key") == [["a", "1"], ["b", "2"]])
        #expect(try f.scalar("SELECT count(*) FROM applied") == 4)
        #expect(try f.scalar("SELECT count(*) FROM projector.runs") == 3)
    }

    @Test func aFailingKeyIsRolledBackAndParkedWhileTheOthersCommit() throws {
        let f = try PostgresFixture()
        try f.connection.execute(
            "CREATE TABLE poison_events(id text PRIMARY KEY); INSERT INTO poison_events VALUES('bad')")
        try f.append(
            f.ping("a", id: "a1"), f.ping("p", id: "p1"), f.ping("p", id: "bad"), f.ping("p", id: "p3"),
            f.ping("z", id: "z1"))
        let report = try f.run()
        #expect(report.failures == 1)
        // The key's events before the failing one stay; the failing one and those after are held.
        #expect(try f.rows("SELECT id FROM applied ORDER BY seq") == [["a1"], ["p1"], ["z1"]])
        #expect(try f.rows("SELECT job, key, state FROM projector.failures") == [["log", "p", "parked"]])
        #expect(try f.scalar("SELECT count(*) FROM projector.held_events WHERE key = 'p'") == 2)
        // Once the cause is gone, a later run past the backoff applies the held events in order.
        try f.connection.execute("DELETE FROM poison_events")
        f.clock.time += 60
        try f.run()
        #expect(try f.rows("SELECT id FROM applied ORDER BY seq") == [["a1"], ["p1"], ["z1"], ["bad"], ["p3"]])
        #expect(try f.scalar("SELECT count(*) FROM projector.failures") == 0)
    }

    @Test func jobsCreateTheirTablesWhereTheyWouldWithoutProjector() throws {
        // The test server's role is `projector`, like the runner's schema: `"$user"` in the default
        // search path must not send the jobs' tables into it.
        let f = try PostgresFixture()
        try f.append(f.ping("a", id: "e1"))
        try f.run()
        #expect(
            try f.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'applied'") == 1)
        #expect(
            try f.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'projector' AND tablename = 'applied'") == 0
        )
    }

    @Test func aDuplicateIsAppliedOnceAndARejectIsRecordedOnce() throws {
        let f = try PostgresFixture()
        try f.append(f.ping("a", id: "e1"), "{not json", f.ping("a", id: "e1"))
        let report = try f.run()
        #expect(report.rejects == 1)
        #expect(report.jobs.first { $0.name == "log" }?.duplicates == 1)
        #expect(try f.scalar("SELECT count(*) FROM applied") == 1)
        #expect(try f.scalar("SELECT count(*) FROM projector.rejects") == 1)
        #expect(try f.scalar("SELECT sum(ids) FROM projector.event_window_chunks") == 1)
        try f.run()
        #expect(try f.scalar("SELECT count(*) FROM projector.rejects") == 1)
    }

    @Test func aKeyPastTheStatementTimeoutFailsAloneAndTheOthersCommit() throws {
        let slow = """
            -- dialect: postgres
            -- on: PING           key: aggregateId
            -- @setup
            CREATE TABLE IF NOT EXISTS refreshes(key text PRIMARY KEY, n bigint NOT NULL);
            -- @refresh
            INSERT INTO refreshes(key, n) VALUES(:key, 1) ON CONFLICT (key) DO UPDATE SET n = refreshes.n + 1;
            SELECT pg_sleep(CASE WHEN :key::text = 'slow' THEN 5 ELSE 0 END);
            """
        let f = try PostgresFixture(jobs: ["counter": slow])
        try f.append(f.ping("a"), f.ping("slow"), f.ping("z"))
        let report = try f.run { $0.databasePath += " options='-c statement_timeout=300'" }
        #expect(report.failures == 1)
        #expect(report.outcome == .failures)
        #expect(try f.rows("SELECT key FROM refreshes ORDER BY key") == [["a"], ["z"]])
        #expect(try f.rows("SELECT key, state FROM projector.failures") == [["slow", "retrying"]])
        #expect(try f.scalar("SELECT count(*) FROM projector.failures WHERE error LIKE '%statement timeout%'") == 1)
    }

    @Test func aSecondRunnerFindsTheAdvisoryLockHeld() throws {
        let f = try PostgresFixture()
        try f.append(f.ping("a", id: "e1"))
        let holder = try f.database.connect()
        let keys = PGRunnerSchema.standard.runLockKeys
        try holder.query("SELECT pg_advisory_lock(\(keys.0), \(keys.1))")
        do {
            try f.run()
            Issue.record("the run went ahead beside a held lock")
        } catch {
            guard case .lockHeld(_, let who, _) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(who?.contains("backend PID \(holder.backendPID)") == true, "\(who ?? "nil")")
        }
        holder.close()
        #expect(try f.run().events == 1)
    }

    @Test func twoInstallationsInOneDatabaseKeepApartByTheirSchemas() throws {
        let f = try PostgresFixture()
        try f.append(f.ping("a", id: "e1"), f.ping("b", id: "e2"))
        // The default installation's run lock is held: a runner of another schema is not held up.
        let holder = try f.database.connect()
        let keys = PGRunnerSchema.standard.runLockKeys
        try holder.query("SELECT pg_advisory_lock(\(keys.0), \(keys.1))")
        let report = try f.run { $0.postgresSchema = "projector_blue" }
        #expect(report.events == 2)
        #expect(try f.scalar("SELECT count(*) FROM projector_blue.checkpoints") == 2)
        #expect(try f.scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'projector'") == 0)
        holder.close()
        // The default installation starts from the beginning of the journal on its own checkpoints.
        #expect(try f.run().events == 2)
        #expect(try f.scalar("SELECT count(*) FROM projector.checkpoints") == 2)
        // Each installation's failures are its own.
        let blue = try FailureAdmin(databasePath: f.options.databasePath, postgresSchema: "projector_blue")
        #expect(try blue.list().isEmpty)
        // Scratch schemas and locks are named after the installation's schema.
        let schema = try #require(PGRunnerSchema("projector_blue"))
        #expect(schema.rebuild(of: "log") == "projector_blue_rebuild_log")
        #expect(schema.runLockKeys.1 != PGRunnerSchema.standard.runLockKeys.1)
        #expect(schema.longestScratchJobName == 63 - "projector_blue_rebuilding_".utf8.count)
        // A name that is not a plain identifier is refused before anything connects.
        do {
            try f.run { $0.postgresSchema = "Blue; DROP" }
            Issue.record("a run went ahead with the schema 'Blue; DROP'")
        } catch {
            guard case .configuration(let message) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(message.contains("postgresSchema"), "\(message)")
        }
    }

    @Test func aJobForSQLiteIsRefusedOnPostgreSQL() throws {
        let f = try PostgresFixture(jobs: ["plain": "-- on: PING key: aggregateId\n-- @refresh\nSELECT :key;"])
        do {
            try f.run()
            Issue.record("an SQLite job ran on PostgreSQL")
        } catch {
            guard case .jobs(let errors) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(errors.description.contains("written for SQLite"), "\(errors)")
        }
    }

    @Test func aPasswordOnTheCommandLineAndAttachmentsAreRefusedWithoutShowingThePassword() throws {
        let f = try PostgresFixture()
        do {
            try f.run { $0.databasePath = "postgres://projector:sekrit-pass@127.0.0.1/\(f.database.name)" }
            Issue.record("a password on the command line was accepted")
        } catch {
            guard case .usage(let message) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(!message.contains("sekrit-pass"), "\(message)")
            #expect(message.contains("PGPASSWORD"), "\(message)")
        }
        do {
            try f.run { $0.attachments = [Attachment(name: "app", path: "/tmp/app.db", readOnly: true)] }
            Issue.record("--attach was accepted on PostgreSQL")
        } catch {
            guard case .usage(let message) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(message.contains("--attach app=… has no meaning on PostgreSQL"), "\(message)")
        }
    }

    @Test func aWrongPasswordIsAConfigurationErrorAndAnUnreachableServerATemporaryOne() throws {
        let f = try PostgresFixture()
        let passfile = f.workspace.dir.file("wrong.pgpass")
        try "*:*:*:*:not-the-password\n".write(toFile: passfile, atomically: true, encoding: .utf8)
        chmod(passfile, 0o600)
        let port = ProcessInfo.processInfo.environment["PGPORT"] ?? "5432"
        do {
            try f.run {
                $0.databasePath = "host=127.0.0.1 port=\(port) dbname=\(f.database.name) passfile=\(passfile)"
            }
            Issue.record("a wrong password connected")
        } catch {
            guard case .configuration(let message) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(message.contains("password authentication failed"), "\(message)")
            #expect(!message.contains("not-the-password"), "\(message)")
        }
        do {
            try f.run { $0.databasePath = "host=127.0.0.1 port=1 dbname=\(f.database.name) connect_timeout=2" }
            Issue.record("an unreachable server connected")
        } catch {
            guard case .databaseUnavailable = error else {
                Issue.record("unexpected \(error)")
                return
            }
        }
    }
}
