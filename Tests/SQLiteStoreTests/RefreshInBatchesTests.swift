import ProjectorCore
import SQLiteStore
import TestSupport
import Testing

/// `refresh(keys:)`: a job's `@refresh_batch` run once for many keys, on a real database.
@Suite struct RefreshInBatchesTests {
    static let job = """
        -- on: PING
        -- @setup
        CREATE TABLE IF NOT EXISTS totals(id INTEGER PRIMARY KEY, n INTEGER NOT NULL, total INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS named(name TEXT PRIMARY KEY, n INTEGER NOT NULL);
        -- @refresh
        DELETE FROM totals WHERE id = :key;
        INSERT INTO totals SELECT run, count(*), sum(v) FROM results WHERE run = :key GROUP BY run;
        DELETE FROM named WHERE name = :key;
        INSERT INTO named SELECT name, count(*) FROM labels WHERE name = :key GROUP BY name;
        -- @refresh_batch
        DELETE FROM totals WHERE id IN (SELECT key FROM batch_keys);
        INSERT INTO totals SELECT run, count(*), sum(v) FROM results
        WHERE run IN (SELECT key FROM batch_keys) GROUP BY run;
        DELETE FROM named WHERE name IN (SELECT key FROM batch_keys);
        INSERT INTO named SELECT name, count(*) FROM labels WHERE name IN (SELECT key FROM batch_keys) GROUP BY name;
        -- @keys
        SELECT run FROM results UNION SELECT name FROM labels
        """

    /// A write model with integer and text keys, and the job set up and compiled on it.
    static func database(_ dir: TemporaryDirectory, name: String) throws -> (RunnerStore, any CompiledJobStatements) {
        let store = try RunnerStore.open(path: dir.file(name), options: Database.Options())
        try store.db.execute(
            """
            CREATE TABLE results(run INTEGER NOT NULL, v INTEGER NOT NULL);
            INSERT INTO results VALUES(1, 5), (1, 7), (2, 1), (3, 4), (3, 4), (3, 4), (10, 0);
            CREATE TABLE labels(name TEXT NOT NULL);
            INSERT INTO labels VALUES('a'), ('a'), ('b'), ('12x');
            """)
        let definition = try JobFileParser.parse(name: "job", file: "jobs/job.sql", text: job)
        try store.setUp(definition)
        return (store, try store.compile(definition))
    }

    static func contents(_ store: RunnerStore) throws -> [[SQLValue]] {
        try store.db.rows("SELECT 'totals', id, typeof(id), n, total FROM totals ORDER BY id")
            + store.db.rows("SELECT 'named', name, typeof(name), n, NULL FROM named ORDER BY name")
    }

    @Test func oneBatchLeavesTheRowsThatEachKeyRefreshedAloneLeaves() throws {
        let dir = TemporaryDirectory("projector-batch-refresh")
        let (perKey, perKeyJob) = try Self.database(dir, name: "per-key.db")
        let (batched, batchedJob) = try Self.database(dir, name: "batched.db")
        #expect(batchedJob.refreshesInBatches)
        // Stale rows, a key without rows any more (4), a repeated key, keys of both kinds.
        for store in [perKey, batched] {
            try store.db.execute(
                "INSERT INTO totals VALUES(1, 0, 0), (4, 9, 9), (3, 1, 1); INSERT INTO named VALUES('b', 5)")
        }
        let keys = ["3", "1", "4", "a", "b", "12x", "1", "2"]
        try perKey.transaction { () throws(StoreError) in
            for key in keys { try perKeyJob.refresh(key: key) }
        }
        try batched.transaction { () throws(StoreError) in try batchedJob.refresh(keys: keys) }

        let expected: [[SQLValue]] = [
            [.text("totals"), .integer(1), .text("integer"), .integer(2), .integer(12)],
            [.text("totals"), .integer(2), .text("integer"), .integer(1), .integer(1)],
            [.text("totals"), .integer(3), .text("integer"), .integer(3), .integer(12)],
            [.text("named"), .text("12x"), .text("text"), .integer(1), .null],
            [.text("named"), .text("a"), .text("text"), .integer(2), .null],
            [.text("named"), .text("b"), .text("text"), .integer(1), .null],
        ]
        #expect(try Self.contents(perKey) == expected)
        #expect(try Self.contents(batched) == expected)
        // Key 10 was not in the batch: untouched (no row made for it).
        #expect(try batched.db.rows("SELECT count(*) FROM totals WHERE id = 10").first?.first?.int == 0)
        // The keys table is temporary and emptied after each pass.
        #expect(try batched.db.rows("SELECT count(*) FROM temp.batch_keys").first?.first?.int == 0)
        #expect(
            try batched.db.rows("SELECT count(*) FROM main.sqlite_master WHERE name = 'batch_keys'").first?.first?.int
                == 0)

        // A second batch reuses the prepared statements with other keys, inside a savepoint that is
        // rolled back, then once more after the rollback.
        try batched.db.execute("INSERT INTO results VALUES(2, 100)")
        #expect(throws: StoreError.self) {
            try batched.transaction { () throws(StoreError) in
                try batched.savepoint { () throws(StoreError) in
                    try batchedJob.refresh(keys: ["2"])
                    throw StoreError(kind: .statement, message: "rolled back", code: "", description: "rolled back")
                }
            }
        }
        #expect(try batched.db.rows("SELECT total FROM totals WHERE id = 2").first?.first?.int == 1)
        try batched.transaction { () throws(StoreError) in try batchedJob.refresh(keys: ["2"]) }
        #expect(try batched.db.rows("SELECT total FROM totals WHERE id = 2").first?.first?.int == 101)
    }

    @Test func aJobWithoutTheSectionRefreshesKeyByKey() throws {
        let dir = TemporaryDirectory("projector-batch-refresh")
        let store = try RunnerStore.open(path: dir.file("db.db"), options: Database.Options())
        try store.db.execute("CREATE TABLE w(id INTEGER PRIMARY KEY)")
        let definition = try JobFileParser.parse(
            name: "plain", file: "jobs/plain.sql",
            text: """
                -- on: PING
                -- @setup
                CREATE TABLE IF NOT EXISTS v(id INTEGER PRIMARY KEY);
                -- @refresh
                INSERT OR REPLACE INTO v VALUES(:key);
                """)
        try store.setUp(definition)
        let job = try store.compile(definition)
        #expect(!job.refreshesInBatches)
        try store.transaction { () throws(StoreError) in try job.refresh(keys: ["2", "1"]) }
        #expect(try store.db.rows("SELECT id FROM v ORDER BY id").map { $0[0] } == [.integer(1), .integer(2)])
        #expect(try store.db.rows("SELECT count(*) FROM temp.sqlite_master").first?.first?.int == 0)
    }

    func compileErrors(_ batch: String, setup: String = "") throws -> [String] {
        let dir = TemporaryDirectory("projector-batch-refresh")
        let store = try RunnerStore.open(path: dir.file("db.db"), options: Database.Options())
        let definition = try JobFileParser.parse(
            name: "job", file: "jobs/job.sql",
            text: """
                -- on: PING
                -- @setup
                CREATE TABLE IF NOT EXISTS v(id INTEGER PRIMARY KEY);\(setup)
                -- @refresh
                INSERT OR REPLACE INTO v VALUES(:key);
                -- @refresh_batch
                \(batch)
                -- @keys
                SELECT 1
                """)
        try store.setUp(definition)
        do {
            _ = try store.compile(definition)
            return []
        } catch {
            return error.errors.map(\.description)
        }
    }

    @Test func theSectionIsPreparedWithErrorsOnTheirLines() throws {
        #expect(
            try compileErrors(
                "INSERT OR REPLACE INTO v SELECT key FROM batch_keys;\nINSERT INTO v(idd) SELECT key FROM batch_keys;")
                == ["jobs/job.sql:8: table v has no column named idd"])
        #expect(
            try compileErrors("INSERT OR REPLACE INTO v SELECT key FROM batch_keys;\nDELETE FROM v WHERE id = ?;")
                == [
                    "jobs/job.sql:8: '@refresh_batch' takes no parameter ('?'): it reads the batch's keys from "
                        + "batch_keys(key)"
                ])
        #expect(try compileErrors("INSERT OR REPLACE INTO v SELECT key FROM batch_keys;").isEmpty)
    }

    @Test func aTableNamedLikeTheKeysTableIsRefused() throws {
        #expect(
            try compileErrors(
                "INSERT OR REPLACE INTO v SELECT key FROM batch_keys;",
                setup: "\nCREATE TABLE IF NOT EXISTS Batch_Keys(key);")
                == [
                    "jobs/job.sql:7: '@refresh_batch' reads the batch's keys from the temporary table batch_keys, "
                        + "but main.batch_keys exists and would be hidden behind it; rename that table"
                ])
    }
}
