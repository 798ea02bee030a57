public import ProjectorCore

/// What a run deletes of the records that grow with time or with the journal. Each statement
/// reads at most `limit` rows through an index (or the oldest `limit` rows), so a run's pruning is
/// a few milliseconds whatever the backlog.
extension RunnerStore: HistoryRetention {
    public func prune(_ pruning: HistoryPruning) throws(StoreError) -> PrunedHistory {
        try transaction { () throws(StoreError) in
            try sqlite { () throws(SQLiteError) in
                var pruned = PrunedHistory()
                // Runs are numbered in the order they start: only the oldest `limit` are looked at.
                try db.run(
                    """
                    DELETE FROM projector_runs WHERE id IN (SELECT id FROM projector_runs ORDER BY id LIMIT ?1)
                        AND started_at < ?2 AND id <> ?3
                    """, [SQLValue(pruning.limit), .real(pruning.before), SQLValue(pruning.currentRun)])
                pruned.runs = db.changes
                // Through the partial index of delivered rows by delivery time; pending, dead and
                // disabled rows are never touched.
                try db.run(
                    """
                    DELETE FROM projector_webhook_outbox WHERE id IN (
                        SELECT id FROM projector_webhook_outbox INDEXED BY projector_webhook_outbox_delivered
                        WHERE state = 'delivered' AND delivered_at < ?1 ORDER BY delivered_at LIMIT ?2)
                    """, [.real(pruning.before), SQLValue(pruning.limit)])
                pruned.notifications = db.changes
                try db.run(
                    """
                    DELETE FROM projector_rejects WHERE (position, job) IN (
                        SELECT position, job FROM projector_rejects WHERE position < ?1 ORDER BY position LIMIT ?2)
                    """, [SQLValue(pruning.journalStart), SQLValue(pruning.limit)])
                pruned.rejects = db.changes
                return pruned
            }
        }
    }
}
