public import ProjectorCore

/// What `projector journal prune` must keep of the journal.
extension RunnerStore: JournalRetention {
    public func oldestHeldEventPosition() throws(StoreError) -> Int? {
        try sqlite { () throws(SQLiteError) in
            try db.rows("SELECT min(position) FROM projector_held_events").first?.first?.int
        }
    }
}
