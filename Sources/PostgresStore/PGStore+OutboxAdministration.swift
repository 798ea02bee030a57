import PostgresClient
public import ProjectorCore

/// `projector webhooks list|retry` on the outbox.
extension PGStore: OutboxAdministration {
    /// None when no run has created the outbox yet (listing writes nothing, so it takes no lock).
    public func outboxRows(matching filter: OutboxFilter) throws(StoreError) -> [OutboxRow] {
        guard try hasRunnerTables() else { return [] }
        let (tail, parameters) = Self.selection(filter)
        return try outboxRows(tail, parameters)
    }

    /// In one statement: the selected notifications pending again, their endpoints re-enabled.
    public func requeue(matching filter: OutboxFilter, now: Double) throws(StoreError) -> Int {
        let (tail, parameters) = Self.selection(filter)
        let outbox = table("webhook_outbox")
        return try run(
            """
            WITH chosen AS (SELECT id, endpoint FROM \(outbox) \(tail)),
            enabled AS (
                DELETE FROM \(table("webhook_endpoints")) WHERE name IN (SELECT endpoint FROM chosen) RETURNING 1),
            requeued AS (
                UPDATE \(outbox) SET state = 'pending', attempts = 0, next_attempt_at = $\(parameters.count + 1)
                WHERE id IN (SELECT id FROM chosen) RETURNING 1)
            SELECT count(*) FROM requeued
            """, parameters + [now.parameter]
        ).first?.int(0) ?? 0
    }

    /// The `WHERE … ORDER BY … LIMIT …` tail of a filter, every value a parameter ($1, $2, …).
    static func selection(_ filter: OutboxFilter) -> (String, [String?]) {
        var conditions: [String] = []
        var parameters: [String?] = []
        func placeholders(_ values: [String]) -> String {
            let first = parameters.count + 1
            parameters += values
            return values.indices.map { "$\(first + $0)" }.joined(separator: ", ")
        }
        if let states = filter.states {
            // In the order the states are declared, so the statement's text does not vary with the set's.
            let listed = OutboxState.allCases.filter(states.contains)
            conditions.append(listed.isEmpty ? "false" : "state IN (\(placeholders(listed.map(\.rawValue))))")
        }
        if let ids = filter.ids {
            conditions.append(ids.isEmpty ? "false" : "id IN (\(placeholders(ids.map(\.parameter))))")
        }
        var tail = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ") + " "
        tail += filter.order == .newestFirst ? "ORDER BY id DESC" : "ORDER BY id"
        if let limit = filter.limit {
            tail += " LIMIT \(placeholders([limit.parameter]))"
        }
        return (tail, parameters)
    }
}
