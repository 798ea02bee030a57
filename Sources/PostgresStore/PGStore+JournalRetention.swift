import PostgresClient
public import ProjectorCore

/// What `projector journal prune` must keep of the journal.
extension PGStore: JournalRetention {
    public func oldestHeldEventPosition() throws(StoreError) -> Int? {
        try run("SELECT min(position) FROM \(table("held_events"))").first?.int(0)
    }
}

/// `projector verify` of a whole job: its rebuild, built in the scratch schema named
/// `scratchPath`, compared with the live tables both ways (`EXCEPT ALL`).
extension PGStore: TableComparison {
    public func compareTables(withScratchAt scratchPath: String) throws(StoreError) -> [ReadModelDrift] {
        let tables = try run(
            """
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname
            """, [scratchPath]
        ).compactMap { $0.string(0) }
        var drifts: [ReadModelDrift] = []
        for table in tables {
            let recomputed = "\(Self.quote(scratchPath)).\(Self.quote(table))"
            // The live table is where the job's unqualified name resolves, as in a run.
            let live =
                try run(
                    """
                    SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c
                    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)
                    """, [Self.quote(table)]
                ).first?.string(0) ?? Self.quote(table)
            func rows(_ a: String, _ b: String) throws(StoreError) -> (Int, [String]) {
                let sql = "SELECT * FROM \(a) EXCEPT ALL SELECT * FROM \(b)"
                let count = try run("SELECT count(*) FROM (\(sql)) AS difference").first?.int(0) ?? 0
                let result = try run(sql + " ORDER BY 1 LIMIT 20")
                let sample = result.map { row in
                    "(" + (0..<result.columnCount).map { row.string($0) ?? "NULL" }.joined(separator: ", ") + ")"
                }
                return (count, sample)
            }
            let (missing, missingRows) = try rows(recomputed, live)
            let (unexpected, unexpectedRows) = try rows(live, recomputed)
            drifts.append(
                ReadModelDrift(
                    table: table, missingOrDifferent: missingRows, unexpected: unexpectedRows, missingCount: missing,
                    unexpectedCount: unexpected))
        }
        return drifts
    }
}

extension PGStore: OperatorStore {}
