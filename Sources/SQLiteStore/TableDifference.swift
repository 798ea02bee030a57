import ProjectorCore

/// Row-by-row differences between a read model's tables in two schemas of one connection (the
/// live database and a recomputation attached beside it).
enum TableDifference {
    /// The read-model tables of a schema (everything but projector's and SQLite's own), by name.
    static func tables(_ db: Database, schema: String) throws(SQLiteError) -> [String] {
        try db.rows(
            """
            SELECT name FROM \(schema).sqlite_master WHERE type = 'table'
            AND name NOT LIKE 'projector\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name
            """
        ).compactMap { $0[0].string }
    }

    /// The rows of `table` in `recomputed` that `live` lacks or holds differently and, `bothWays`,
    /// the rows `live` has that `recomputed` does not: counted, and the first 20 of each listed.
    static func compare(
        _ db: Database, table: String, recomputed: String, live: String, bothWays: Bool
    ) throws(SQLiteError) -> ReadModelDrift {
        let t = RunnerStore.quote(table)
        func rows(_ a: String, _ b: String) throws(SQLiteError) -> (count: Int, sample: [String]) {
            let sql = "SELECT * FROM \(a).\(t) EXCEPT SELECT * FROM \(b).\(t)"
            let count = try db.rows("SELECT count(*) FROM (\(sql))").first?.first?.int ?? 0
            let sample = try db.rows(sql + " LIMIT 20").map { row in
                "(" + row.map { $0.string ?? "NULL" }.joined(separator: ", ") + ")"
            }
            return (count, sample)
        }
        return try ReadModelDrift.comparing(
            table, bothWays: bothWays, missing: { () throws(SQLiteError) in try rows(recomputed, live) },
            unexpected: { () throws(SQLiteError) in try rows(live, recomputed) })
    }
}
