public import ProjectorCore

/// `projector verify --sample` on SQLite: an in-memory database where a job's `@setup` creates
/// empty tables, with the live database (and the job's attached databases) attached read-only
/// beside it; each key is recomputed there alone and compared with the live rows.
public final class SampleScratch: KeyRecomputation {
    let db: Database
    let compiled: CompiledJob
    /// The tables `@setup` created, listed on first use.
    private var tables: [String]?

    /// Opens the scratch database beside the live one at `livePath`.
    public static func open(livePath: String, attachments: [Attachment]) throws(StoreError) -> Database {
        do throws(SQLiteError) {
            let db = try Database(path: ":memory:")
            for attachment in attachments {
                try db.run(
                    "ATTACH DATABASE ? AS \(RunnerStore.quote(attachment.name))",
                    [.text("file:" + RunnerStore.uriEscape(attachment.path) + "?mode=ro")])
            }
            try db.run(
                "ATTACH DATABASE ? AS \(RunnerStore.liveSchema)",
                [.text("file:" + RunnerStore.uriEscape(livePath) + "?mode=ro")])
            return db
        } catch {
            throw error.storeError
        }
    }

    /// Runs the job's `@setup` in the scratch database `db` (from `open`) and prepares its statements.
    public init(_ job: JobDefinition, in db: Database) throws(JobFileErrors) {
        self.db = db
        try CompiledJob.setup(job, db: db)
        compiled = try CompiledJob(job, db: db)
    }

    public func allKeys() throws(StoreError) -> [String] { try compiled.allKeys() }

    public func recompute(key: String) throws(StoreError) -> [ReadModelDrift] {
        do throws(SQLiteError) {
            let tables = try readModelTables()
            for table in tables { try db.execute("DELETE FROM main.\(RunnerStore.quote(table))") }
            try EventBinder.refresh(compiled.body, key: key)
            return try tables.map { (table) throws(SQLiteError) in
                try TableDifference.compare(
                    db, table: table, recomputed: "main", live: RunnerStore.liveSchema, bothWays: false)
            }
        } catch {
            throw error.storeError
        }
    }

    /// The schema, attached in memory, that holds the key-by-key result while the batch form runs.
    static let perKeySchema = "projector_per_key"

    public func compareRefreshForms(keys: [String], batchSize: Int) throws(StoreError) -> [ReadModelDrift] {
        guard let batch = compiled.batch else { return [] }
        do throws(SQLiteError) {
            let tables = try readModelTables()
            func empty() throws(SQLiteError) {
                for table in tables { try db.execute("DELETE FROM main.\(RunnerStore.quote(table))") }
            }
            try empty()
            for key in keys { try EventBinder.refresh(compiled.body, key: key) }
            if try db.rows("SELECT 1 FROM pragma_database_list WHERE name = ?", [.text(Self.perKeySchema)]).isEmpty {
                try db.execute("ATTACH DATABASE ':memory:' AS \(Self.perKeySchema)")
            }
            for table in tables {
                let name = RunnerStore.quote(table)
                try db.execute("DROP TABLE IF EXISTS \(Self.perKeySchema).\(name)")
                try db.execute("CREATE TABLE \(Self.perKeySchema).\(name) AS SELECT * FROM main.\(name)")
            }
            try empty()
            var start = 0
            while start < keys.count {
                let end = min(keys.count, start + max(1, batchSize))
                try batch.refresh(keys: Array(keys[start..<end]))
                start = end
            }
            return try tables.map { (table) throws(SQLiteError) in
                try TableDifference.compare(
                    db, table: table, recomputed: Self.perKeySchema, live: "main", bothWays: true)
            }
        } catch {
            throw error.storeError
        }
    }

    private func readModelTables() throws(SQLiteError) -> [String] {
        if let tables { return tables }
        let listed = try TableDifference.tables(db, schema: "main")
        tables = listed
        return listed
    }
}
