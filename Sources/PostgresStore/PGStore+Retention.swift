import PostgresClient
public import ProjectorCore

/// What a run deletes of the records that grow with time or with the journal, a bounded number
/// of rows of each kind per run.
extension PGStore {
    public func prune(_ pruning: HistoryPruning) throws(StoreError) -> PrunedHistory {
        try transaction { () throws(StoreError) in
            var pruned = PrunedHistory()
            pruned.runs =
                try run(
                    """
                    DELETE FROM \(table("runs")) WHERE id IN (SELECT id FROM \(table("runs")) ORDER BY id LIMIT $1)
                        AND started_at < $2 AND id <> $3
                    """, [pruning.limit.parameter, pruning.before.parameter, pruning.currentRun.parameter]
                ).affectedRows ?? 0
            pruned.notifications =
                try run(
                    """
                    DELETE FROM \(table("webhook_outbox")) WHERE id IN (
                        SELECT id FROM \(table("webhook_outbox"))
                        WHERE state = 'delivered' AND delivered_at < $1 ORDER BY delivered_at LIMIT $2)
                    """, [pruning.before.parameter, pruning.limit.parameter]
                ).affectedRows ?? 0
            pruned.rejects =
                try run(
                    """
                    DELETE FROM \(table("rejects")) WHERE (position, job) IN (
                        SELECT position, job FROM \(table("rejects")) WHERE position < $1 ORDER BY position LIMIT $2)
                    """, [pruning.journalStart.parameter, pruning.limit.parameter]
                ).affectedRows ?? 0
            return pruned
        }
    }
}
