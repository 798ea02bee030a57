public import PostgresClient
public import ProjectorCore

/// `projector verify --sample` (and the comparison of a job's two refresh forms) on PostgreSQL: in
/// one transaction that is never committed, the job's `@setup` creates empty tables in a scratch
/// schema first in the search path (the write model and other jobs' tables reachable as in a run);
/// each key is recomputed there alone and compared with the live rows.
public final class PGSampleScratch: KeyRecomputation {
    let store: PGStore
    let compiled: PGCompiledJob
    let scratch: String
    /// The tables `@setup` created, listed on first use.
    private var tables: [String]?

    /// Opens the transaction on `connection` (its own: the transaction ends with it) and runs the
    /// job's `@setup` in the scratch schema.
    public init(_ job: JobDefinition, connection: PGConnection, runnerSchema: PGRunnerSchema) throws(JobFileErrors) {
        scratch = runnerSchema.sample(of: job.name)
        do throws(PGError) {
            try connection.execute("BEGIN")
            store = try PGStore.rebuildScratch(
                connection: connection, job: job.name, scratch: scratch, runnerSchema: runnerSchema)
        } catch {
            throw JobFileErrors([JobFileError(file: job.file, line: 1, message: error.message)])
        }
        try store.setUp(job)
        compiled = try PGCompiledJob(job, store: store)
    }

    public func allKeys() throws(StoreError) -> [String] { try compiled.allKeys() }

    public func recompute(key: String) throws(StoreError) -> [ReadModelDrift] {
        let tables = try readModelTables()
        try empty(tables)
        try compiled.refresh(key: key)
        var drifts: [ReadModelDrift] = []
        for table in tables {
            drifts.append(try store.compare(table, recomputed: recomputed(table), live: live(table), bothWays: false))
        }
        return drifts
    }

    public func compareRefreshForms(keys: [String], batchSize: Int) throws(StoreError) -> [ReadModelDrift] {
        guard compiled.refreshesInBatches else { return [] }
        let tables = try readModelTables()
        let perKey = PGStore.quote(store.runnerSchema.perKey(of: compiled.definition.name))
        try empty(tables)
        for key in keys { try compiled.refresh(key: key) }
        try store.execute("CREATE SCHEMA IF NOT EXISTS \(perKey)")
        for table in tables {
            let name = PGStore.quote(table)
            try store.execute("DROP TABLE IF EXISTS \(perKey).\(name)")
            try store.execute("CREATE TABLE \(perKey).\(name) AS SELECT * FROM \(recomputed(table))")
        }
        try empty(tables)
        var start = 0
        while start < keys.count {
            let end = min(keys.count, start + max(1, batchSize))
            try compiled.refresh(keys: Array(keys[start..<end]))
            start = end
        }
        var drifts: [ReadModelDrift] = []
        for table in tables {
            drifts.append(
                try store.compare(
                    table, recomputed: "\(perKey).\(PGStore.quote(table))", live: recomputed(table), bothWays: true))
        }
        return drifts
    }

    func recomputed(_ table: String) -> String { "\(PGStore.quote(scratch)).\(PGStore.quote(table))" }

    /// The live table `table`: the first of the search path's schemas (but the scratch one) that has it.
    func live(_ table: String) throws(StoreError) -> String {
        try store.run(
            """
            SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
            FROM unnest(current_schemas(false)) WITH ORDINALITY AS s(name, i)
            JOIN pg_namespace n ON n.nspname = s.name JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = $1
            WHERE s.name <> $2 ORDER BY s.i LIMIT 1
            """, [table, scratch]
        ).first?.string(0) ?? PGStore.quote(table)
    }

    func empty(_ tables: [String]) throws(StoreError) {
        for table in tables { try store.execute("DELETE FROM \(recomputed(table))") }
    }

    private func readModelTables() throws(StoreError) -> [String] {
        if let tables { return tables }
        let listed = try store.tables(in: scratch)
        tables = listed
        return listed
    }
}

extension PGStore {
    /// The tables of `schema`, by name.
    func tables(in schema: String) throws(StoreError) -> [String] {
        try run(
            """
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname
            """, [schema]
        ).compactMap { $0.string(0) }
    }

    /// The rows of `recomputed` that `live` lacks or holds differently and, `bothWays`, the rows
    /// `live` has that `recomputed` does not (`EXCEPT ALL`): counted, and the first 20 listed.
    func compare(_ table: String, recomputed: String, live: String, bothWays: Bool) throws(StoreError)
        -> ReadModelDrift
    {
        func rows(_ a: String, _ b: String) throws(StoreError) -> (count: Int, sample: [String]) {
            let sql = "SELECT * FROM \(a) EXCEPT ALL SELECT * FROM \(b)"
            let count = try run("SELECT count(*) FROM (\(sql)) AS difference").first?.int(0) ?? 0
            let result = try run(sql + " ORDER BY 1 LIMIT 20")
            let sample = result.map { row in
                "(" + (0..<result.columnCount).map { row.string($0) ?? "NULL" }.joined(separator: ", ") + ")"
            }
            return (count, sample)
        }
        return try ReadModelDrift.comparing(
            table, bothWays: bothWays, missing: { () throws(StoreError) in try rows(recomputed, live) },
            unexpected: { () throws(StoreError) in try rows(live, recomputed) })
    }
}
