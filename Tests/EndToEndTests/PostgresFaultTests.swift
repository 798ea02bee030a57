import Foundation
import PostgresClient
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Faults in the middle of a run on PostgreSQL — `kill -9` of the runner, its connection ended by
/// `pg_terminate_backend`, the server crashing (`pg_ctl restart -m immediate`) — then a rerun:
/// nothing lost, nothing applied twice (a ledger with a unique id would fail a key), and the
/// refresh job's rows equal a full recompute.
@Suite(.postgresServer, .serialized) struct PostgresFaultTests {
    static let jobs = [
        "ledger": """
        -- dialect: postgres
        -- on: PING  key: aggregateId
        -- @setup
        CREATE TABLE IF NOT EXISTS ledger(id text PRIMARY KEY, key text NOT NULL);
        CREATE TABLE IF NOT EXISTS tally(key text PRIMARY KEY, n bigint NOT NULL);
        -- @apply
        INSERT INTO ledger(id, key) VALUES(:id, :key);
        INSERT INTO tally(key, n) VALUES(:key, 1) ON CONFLICT (key) DO UPDATE SET n = tally.n + 1;
        """,
        "per_key": """
        -- dialect: postgres
        -- on: PING  key: aggregateId
        -- after: ledger
        -- @setup
        CREATE TABLE IF NOT EXISTS per_key(key text PRIMARY KEY, events bigint NOT NULL);
        -- @refresh
        DELETE FROM per_key WHERE key = :key;
        INSERT INTO per_key(key, events) SELECT key, count(*) FROM ledger WHERE key = :key GROUP BY key;
        -- @refresh_batch
        DELETE FROM per_key WHERE key IN (SELECT key FROM batch_keys);
        INSERT INTO per_key(key, events)
        SELECT key, count(*) FROM ledger WHERE key IN (SELECT key FROM batch_keys) GROUP BY key;
        -- @keys
        SELECT DISTINCT key FROM ledger
        """,
    ]

    static let events = 30_000
    static let keys = 500

    struct Setup {
        let database: PostgresTestDatabase
        let workspace: Workspace
        let conninfo: String

        init(conninfo: String? = nil, database: PostgresTestDatabase? = nil) throws {
            self.database = try database ?? PostgresTestDatabase()
            self.conninfo = conninfo ?? self.database.conninfo
            workspace = try Workspace(label: "projector-pg-fault", jobs: PostgresFaultTests.jobs)
            var lines: [String] = []
            lines.reserveCapacity(PostgresFaultTests.events)
            for index in 0..<PostgresFaultTests.events {
                lines.append(
                    Events.line(
                        type: "PING", aggregateId: "k\(index % PostgresFaultTests.keys)", id: "e\(index)",
                        data: #"{"n":\#(index)}"#))
            }
            try workspace.append(lines: lines)
        }

        var run: [String] {
            [
                "run", "--database", conninfo, "--journal", workspace.journalPath, "--jobs-dir",
                workspace.jobsDirectory, "--batch-events", "300", "--log-level", "error",
            ]
        }

        /// Runs to the end and checks every invariant.
        func finishAndCheck(_ connection: PGConnection) throws {
            let last = try ChildProcess.run(run)
            #expect(last.status == 0, "\(last.stderr)")
            func count(_ sql: String) throws -> Int { try connection.query(sql).first?.int(0) ?? -1 }
            #expect(try count("SELECT count(*) FROM ledger") == PostgresFaultTests.events)
            #expect(try count("SELECT sum(n) FROM tally") == PostgresFaultTests.events)
            #expect(
                try count(
                    "SELECT count(*) FROM tally WHERE n <> \(PostgresFaultTests.events / PostgresFaultTests.keys)") == 0
            )
            #expect(try count("SELECT count(*) FROM projector.failures") == 0)
            let drift = """
                SELECT count(*) FROM (
                    (SELECT key, events FROM per_key EXCEPT ALL SELECT key, count(*) FROM ledger GROUP BY key)
                    UNION ALL
                    (SELECT key, count(*) FROM ledger GROUP BY key EXCEPT ALL SELECT key, events FROM per_key)
                ) AS drift
                """
            #expect(try count(drift) == 0)
            #expect(try count("SELECT count(*) FROM per_key") == PostgresFaultTests.keys)
        }
    }

    @Test func killNineAtAnyMomentLosesNothingAndAppliesNothingTwice() throws {
        let setup = try Setup()
        var interrupted = 0
        var delay = 0.1
        while interrupted < 12 {
            let child = try ChildProcess(setup.run)
            usleep(useconds_t(delay * 1_000_000))
            child.kill9()
            let outcome = child.wait()
            guard outcome.signaled else {
                #expect(outcome.status == 0, "\(outcome.stderr)")
                break
            }
            interrupted += 1
            delay *= 1.3
        }
        #expect(interrupted >= 3, "the journal was processed before the first kill: make it bigger")
        try setup.finishAndCheck(try setup.database.connect())
    }

    @Test func aConnectionEndedMidRunIsExit75AndTheRerunFinishes() throws {
        let setup = try Setup()
        let admin = try setup.database.connect()
        let child = try ChildProcess(setup.run)
        // The run's own connection (not its lock's): ended once it has committed a few batches.
        var terminated = false
        for _ in 0..<200 where !terminated {
            usleep(20_000)
            let applied =
                try admin.query("SELECT count(*) FROM pg_tables WHERE tablename = 'ledger'").first?.int(0) ?? 0
            guard applied > 0, try admin.query("SELECT count(*) FROM ledger").first?.int(0) ?? 0 > 600 else {
                continue
            }
            for row in try admin.query(
                """
                SELECT pid FROM pg_stat_activity
                WHERE application_name = 'projector' AND datname = current_database() AND pid <> pg_backend_pid()
                """)
            {
                if let pid = row.int(0) {
                    terminated = try admin.query("SELECT pg_terminate_backend(\(pid))").first?.bool(0) ?? false
                }
            }
        }
        let outcome = child.wait()
        #expect(terminated)
        #expect(outcome.status == 75, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("cannot reach the database"), "\(outcome.stderr)")
        #expect(try admin.query("SELECT count(*) FROM ledger").first?.int(0) ?? 0 < PostgresFaultTests.events)
        try setup.finishAndCheck(admin)
    }

    @Test func aServerCrashMidRunIsExit75AndTheRerunFinishes() throws {
        let cluster = try PostgresTestCluster()
        let setup = try Setup(conninfo: cluster.conninfo)
        let watcher = try PGConnection(conninfo: cluster.conninfo)
        let child = try ChildProcess(setup.run)
        // Crash the server once the run has committed a few batches, well before its end.
        for _ in 0..<500 {
            usleep(10_000)
            let tables = try watcher.query("SELECT count(*) FROM pg_tables WHERE tablename = 'ledger'")
            guard tables.first?.int(0) == 1, try watcher.query("SELECT count(*) FROM ledger").first?.int(0) ?? 0 > 600
            else { continue }
            break
        }
        try cluster.restart(mode: "immediate")
        let outcome = child.wait()
        #expect(outcome.status == 75, "\(outcome.stderr)")
        let after = try PGConnection(conninfo: cluster.conninfo)
        #expect(try after.query("SELECT count(*) FROM ledger").first?.int(0) ?? 0 < PostgresFaultTests.events)
        try setup.finishAndCheck(after)
    }
}
