import PostgresClient
public import ProjectorCore

/// What `projector journal prune` must keep of the journal.
extension PGStore: JournalRetention {
    public func oldestHeldEventPosition() throws(StoreError) -> Int? {
        try run("SELECT min(position) FROM \(table("held_events"))").first?.int(0)
    }
}

/// `projector verify` compares a rebuild's scratch database with the live one; rebuilds are
/// SQLite-only for now (the runner refuses verify on PostgreSQL before it gets here).
extension PGStore: TableComparison {
    public func compareTables(withScratchAt scratchPath: String) throws(StoreError) -> [ReadModelDrift] {
        let message = "comparing a read model with a rebuild (verify) is not available on PostgreSQL yet"
        throw StoreError(kind: .other, message: message, code: "", description: message)
    }
}

extension PGStore: OperatorStore {}
