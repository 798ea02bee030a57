public import ProjectorCore

/// `projector verify` of a whole job: its rebuild, in a scratch database, attached and compared.
extension RunnerStore: TableComparison {
    public func compareTables(withScratchAt scratchPath: String) throws(StoreError) -> [ReadModelDrift] {
        try sqlite { () throws(SQLiteError) in
            try db.run("ATTACH DATABASE ? AS projector_verify", [.text(scratchPath)])
            var drifts: [ReadModelDrift] = []
            for table in try TableDifference.tables(db, schema: "projector_verify") {
                drifts.append(
                    try TableDifference.compare(
                        db, table: table, recomputed: "projector_verify", live: "main", bothWays: true))
            }
            try db.execute("DETACH DATABASE projector_verify")
            return drifts
        }
    }
}
