import Foundation
import PostgresClient
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `projector rebuild` on PostgreSQL, through the built binary: the job's read model is built in a
/// scratch schema, then swapped in with one transaction (a real server from `scripts/test`).
@Suite(.postgresServer) struct PostgresRebuildTests {
    /// An apply job with a trigger function and a view of its own, slowed by the write model's
    /// `slow` table (seconds per event), and a refresh job with `@keys` and `@refresh_batch` reading
    /// the first one's table.
    static let jobs = [
        "tally": """
        -- dialect: postgres
        -- on: PING  key: aggregateId
        -- @setup
        CREATE TABLE IF NOT EXISTS tally(key text PRIMARY KEY, n bigint NOT NULL, touched bool NOT NULL DEFAULT false);
        CREATE INDEX IF NOT EXISTS tally_n ON tally(n);
        CREATE OR REPLACE FUNCTION tally_touch() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.touched := true; RETURN NEW; END $$;
        CREATE OR REPLACE TRIGGER tally_touch BEFORE INSERT OR UPDATE ON tally FOR EACH ROW EXECUTE FUNCTION tally_touch();
        CREATE OR REPLACE VIEW tally_big AS SELECT key FROM tally WHERE n > 1;
        -- @apply
        INSERT INTO tally(key, n) SELECT :key, 1 FROM (SELECT pg_sleep(coalesce((SELECT max(s) FROM slow), 0))) AS pause
        ON CONFLICT (key) DO UPDATE SET n = tally.n + 1;
        """,
        "per_key": """
        -- dialect: postgres
        -- on: PING  key: aggregateId
        -- after: tally
        -- @setup
        CREATE TABLE IF NOT EXISTS per_key(key text PRIMARY KEY, twice bigint NOT NULL);
        -- @refresh
        DELETE FROM per_key WHERE key = :key;
        INSERT INTO per_key(key, twice) SELECT key, 2 * n FROM tally WHERE key = :key;
        -- @refresh_batch
        DELETE FROM per_key WHERE key IN (SELECT key FROM batch_keys);
        INSERT INTO per_key(key, twice) SELECT key, 2 * n FROM tally WHERE key IN (SELECT key FROM batch_keys);
        -- @keys
        SELECT key FROM tally
        """,
    ]

    final class Setup {
        let database: PostgresTestDatabase
        let workspace: Workspace
        let connection: PGConnection

        init(events: Int, keys: Int) throws {
            database = try PostgresTestDatabase()
            workspace = try Workspace(label: "projector-pg-rebuild", jobs: PostgresRebuildTests.jobs)
            try workspace.append(
                lines: (0..<events).map { Events.line(type: "PING", aggregateId: "k\($0 % keys)", id: "e\($0)") })
            connection = try database.connect()
            try connection.execute("CREATE TABLE slow(s double precision)")
        }

        func arguments(_ command: [String], database: String? = nil) -> [String] {
            command + [
                "--database", database ?? self.database.conninfo, "--journal", workspace.journalPath, "--jobs-dir",
                workspace.jobsDirectory,
            ]
        }

        func projector(_ command: [String]) throws -> ChildProcess.Outcome {
            try ChildProcess.run(arguments(command))
        }

        func rows(_ sql: String, on connection: PGConnection? = nil) throws -> [[String]] {
            let result = try (connection ?? self.connection).query(sql)
            return result.map { row in (0..<result.columnCount).map { row.string($0) ?? "NULL" } }
        }

        /// The read models of a full run from the journal's start into a fresh database.
        func recomputed() throws -> [[[String]]] {
            let fresh = try PostgresTestDatabase()
            let connection = try fresh.connect()
            try connection.execute("CREATE TABLE slow(s double precision)")
            let run = try ChildProcess.run(arguments(["run"], database: fresh.conninfo))
            #expect(run.status == 0, "\(run.stderr)")
            return try models(on: connection)
        }

        func models(on connection: PGConnection? = nil) throws -> [[[String]]] {
            try [
                rows("SELECT key, n, touched FROM tally ORDER BY key", on: connection),
                rows("SELECT key, twice FROM per_key ORDER BY key", on: connection),
                rows("SELECT key FROM tally_big ORDER BY key", on: connection),
            ]
        }

        var scratchSchemas: [[String]] {
            get throws { try rows("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'projector\\_rebuild%'") }
        }
    }

    @Test func rebuildLeavesTheRowsOfAFullRecomputeAndTheJobContinues() throws {
        let s = try Setup(events: 600, keys: 40)
        #expect(try s.projector(["run"]).status == 0)
        try s.connection.execute(
            "UPDATE tally SET n = n + 100 WHERE key = 'k1'; DELETE FROM per_key WHERE key = 'k2'; DELETE FROM tally WHERE key = 'k3'"
        )
        let rebuild = try s.projector(["rebuild", "tally", "per_key"])
        #expect(rebuild.status == 0, "\(rebuild.stderr)")
        #expect(rebuild.stdout.contains("rebuilt tally in "), "\(rebuild.stdout)")
        #expect(rebuild.stdout.contains("600 events, "), "\(rebuild.stdout)")
        #expect(rebuild.stdout.contains("tables tally; continues from position"), "\(rebuild.stdout)")
        #expect(rebuild.stdout.contains("rebuilt per_key in "), "\(rebuild.stdout)")
        #expect(try s.models() == s.recomputed())
        #expect(try s.scratchSchemas == [])
        #expect(
            try s.rows("SELECT indexname FROM pg_indexes WHERE tablename = 'tally' ORDER BY 1") == [
                ["tally_n"], ["tally_pkey"],
            ])
        #expect(try s.rows("SELECT job FROM projector.checkpoints ORDER BY job") == [["per_key"], ["tally"]])
        // The job continues from the rebuild's checkpoint: new events only, its trigger still in place.
        try s.workspace.append(
            lines: (0..<50).map { Events.line(type: "PING", aggregateId: "n\($0 % 5)", id: "n\($0)") })
        let run = try s.projector(["run"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try s.models() == s.recomputed())
        // A changed definition is rebuilt by `run --rebuild-changed`.
        try s.workspace.dir.write(
            "jobs/per_key.sql",
            Self.jobs["per_key", default: ""].replacingOccurrences(of: "2 * n", with: "3 * n")
                .replacingOccurrences(of: "twice bigint", with: "twice numeric"))
        let changed = try s.projector(["run", "--rebuild-changed"])
        #expect(changed.status == 0, "\(changed.stderr)")
        #expect(try s.rows("SELECT twice FROM per_key WHERE key = 'n0'") == [["30"]])
        #expect(try s.scratchSchemas == [])
    }

    @Test func aReaderSeesTheOldOrTheNewModelDuringTheRebuildNeverAnEmptyOne() throws {
        let s = try Setup(events: 4000, keys: 400)
        #expect(try s.projector(["run"]).status == 0)
        try s.connection.execute("UPDATE tally SET n = 0")
        let reader = try s.database.connect()
        let child = try ChildProcess(s.arguments(["rebuild", "tally"]))
        var counts: [Int: Int] = [:]
        var sums = Set<String>()
        var failures: [String] = []
        while child.isRunning {
            do {
                let row = try reader.query("SELECT count(*), sum(n) FROM tally").first
                counts[row?.int(0) ?? -1, default: 0] += 1
                sums.insert(row?.string(1) ?? "NULL")
            } catch {
                failures.append("\(error)")
            }
        }
        let outcome = child.wait()
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(failures == [])
        #expect(counts.keys.sorted() == [400], "\(counts)")
        #expect(sums.isSubset(of: ["0", "4000"]), "\(sums)")
        #expect(try s.rows("SELECT count(*), sum(n) FROM tally", on: reader) == [["400", "4000"]])
    }

    @Test func killNineDuringTheBuildLeavesTheLiveModelAndTheRerunResumes() throws {
        // The build's first batch is 1,000 events (2 s), the next ones a quarter of a second each.
        let s = try Setup(events: 3000, keys: 30)
        #expect(try s.projector(["run"]).status == 0)
        try s.connection.execute("UPDATE tally SET n = n + 100 WHERE key = 'k1'")
        let before = try s.models()
        try s.connection.execute("INSERT INTO slow VALUES (0.002)")
        let child = try ChildProcess(s.arguments(["rebuild", "tally"]))
        var built = 0
        for _ in 0..<500 where built == 0 {
            usleep(20_000)
            if try s.rows("SELECT to_regclass('projector_rebuild_tally.tally') IS NOT NULL") == [["t"]] {
                built = Int(try s.rows("SELECT count(*) FROM projector_rebuild_tally.tally")[0][0]) ?? 0
            }
        }
        // A second rebuild of the job meanwhile would build into the same schemas: it exits 75.
        let second = try s.projector(["rebuild", "tally"])
        #expect(second.status == 75, "\(second.stderr)")
        #expect(second.stderr.contains("held by another rebuild or verify of tally"), "\(second.stderr)")
        child.kill9()
        #expect(child.wait().signaled)
        #expect(built > 0, "the build never committed a batch")
        #expect(try s.models() == before)
        #expect(try s.scratchSchemas.count == 2)
        try s.connection.execute("DELETE FROM slow")
        let rerun = try s.projector(["rebuild", "tally"])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stderr.contains("resuming an interrupted rebuild"), "\(rerun.stderr)")
        #expect(try s.models()[0] == s.recomputed()[0])
        #expect(try s.scratchSchemas == [])
    }

    @Test func verifyFindsARowChangedByHandAndRepairFixesIt() throws {
        let s = try Setup(events: 600, keys: 40)
        #expect(try s.projector(["run"]).status == 0)
        try s.connection.execute("UPDATE tally SET n = n + 100 WHERE key = 'k1'")
        let found = try s.projector(["verify", "tally"])
        #expect(found.status == 65, "\(found.stderr)")
        #expect(
            found.stdout == """
                tally: drift found in the whole read model
                  tally: 1 row(s) missing or different, 1 unexpected
                    expected (k1, 15, t)
                    found    (k1, 115, t)

                """, "\(found.stdout)")
        #expect(try s.scratchSchemas == [])
        #expect(try s.rows("SELECT n FROM tally WHERE key = 'k1'") == [["115"]])
        let repair = try s.projector(["verify", "tally", "--repair"])
        #expect(repair.status == 0, "\(repair.stderr)")
        #expect(repair.stdout.hasPrefix("tally: drift found in the whole read model — repaired\n"), "\(repair.stdout)")
        #expect(try s.rows("SELECT n FROM tally WHERE key = 'k1'") == [["15"]])
        let clean = try s.projector(["verify", "tally"])
        #expect(clean.status == 0, "\(clean.stderr)")
        #expect(clean.stdout == "tally: no drift in the whole read model\n")
        #expect(try s.scratchSchemas == [])
        // A sample recomputes keys in a transaction of its own, never committed.
        try s.connection.execute("UPDATE per_key SET twice = 0 WHERE key = 'k1'")
        let sample = try s.projector(["verify", "per_key", "--sample", "100"])
        #expect(sample.status == 65, "\(sample.stderr)")
        #expect(
            sample.stdout == """
                per_key: @refresh_batch and @refresh agree on 40 key(s)
                per_key: drift found in 40 sampled keys
                  keys: k1
                  per_key: 1 row(s) missing or different, 0 unexpected
                    expected (k1, 30)

                """, "\(sample.stdout)")
        let sampleRepair = try s.projector(["verify", "per_key", "--sample", "100", "--repair"])
        #expect(sampleRepair.status == 0, "\(sampleRepair.stderr)")
        #expect(try s.rows("SELECT twice FROM per_key WHERE key = 'k1'") == [["30"]])
        // A row only the live model has is unexpected.
        try s.connection.execute("INSERT INTO per_key VALUES ('bogus', 1)")
        let extra = try s.projector(["verify", "per_key"])
        #expect(extra.status == 65)
        #expect(
            extra.stdout.contains("per_key: 0 row(s) missing or different, 1 unexpected\n    found    (bogus, 1)\n"),
            "\(extra.stdout)")
        #expect(try s.rows("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'projector\\_%'") == [])
    }

    @Test func aJobNameTooLongForTheScratchSchemasIs78() throws {
        let s = try Setup(events: 10, keys: 2)
        let name = String(repeating: "n", count: 43)
        try s.workspace.dir.write(
            "jobs/\(name).sql", Self.jobs["tally", default: ""].replacingOccurrences(of: "tally", with: "other"))
        #expect(try s.projector(["run"]).status == 0)
        for command in [["rebuild", name], ["verify", name]] {
            let outcome = try s.projector(command)
            #expect(outcome.status == 78, "\(command): \(outcome.stderr)")
            #expect(outcome.stderr.contains("need a job name of at most 42 bytes"), "\(outcome.stderr)")
        }
        #expect(try s.scratchSchemas == [])
    }
}
