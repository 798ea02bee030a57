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
        var drifts: [ReadModelDrift] = []
        for table in try tables(in: scratchPath) {
            // The live table is where the job's unqualified name resolves, as in a run.
            let live =
                try run(
                    """
                    SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c
                    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)
                    """, [Self.quote(table)]
                ).first?.string(0) ?? Self.quote(table)
            drifts.append(
                try compare(
                    table, recomputed: "\(Self.quote(scratchPath)).\(Self.quote(table))", live: live, bothWays: true))
        }
        return drifts
    }
}

extension PGStore: OperatorStore {}
