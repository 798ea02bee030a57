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
    public static func open(livePath: String, attachments: [RunnerStore.Attached]) throws(StoreError) -> Database {
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
            let tables: [String]
            if let listed = self.tables {
                tables = listed
            } else {
                tables = try TableDifference.tables(db, schema: "main")
                self.tables = tables
            }
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
}
