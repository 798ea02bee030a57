public import ProjectorCore

/// `projector webhooks list|retry` on the outbox.
extension RunnerStore: OutboxAdministration {
    /// None when no run has created the outbox yet (listing writes nothing, so it takes no lock).
    public func outboxRows(matching filter: OutboxFilter) throws(StoreError) -> [OutboxRow] {
        let (tail, arguments) = Self.selection(filter)
        return try sqlite { () throws(SQLiteError) in
            guard try !db.rows("SELECT 1 FROM sqlite_master WHERE name = 'projector_webhook_outbox'").isEmpty else {
                return []
            }
            return try outboxRows(tail, arguments)
        }
    }

    public func requeue(matching filter: OutboxFilter, now: Double) throws(StoreError) -> Int {
        try sqlite { () throws(SQLiteError) in
            let (tail, arguments) = Self.selection(filter)
            let rows = try outboxRows(tail, arguments)
            for row in rows {
                try db.run(
                    "UPDATE projector_webhook_outbox SET state = 'pending', attempts = 0, next_attempt_at = ? WHERE id = ?",
                    [.real(now), SQLValue(row.id)])
                try db.run("DELETE FROM projector_webhook_endpoints WHERE name = ?", [.text(row.endpoint)])
            }
            return rows.count
        }
    }

    /// The `WHERE … ORDER BY … LIMIT …` tail of a filter, every value bound.
    static func selection(_ filter: OutboxFilter) -> (String, [SQLValue]) {
        var conditions: [String] = []
        var arguments: [SQLValue] = []
        if let states = filter.states {
            // In the order the states are declared, so the statement's text does not vary with the set's.
            let listed = OutboxState.allCases.filter(states.contains)
            conditions.append("state IN (" + listed.map { _ in "?" }.joined(separator: ", ") + ")")
            arguments += listed.map { .text($0.rawValue) }
        }
        if let ids = filter.ids {
            conditions.append("id IN (" + ids.map { _ in "?" }.joined(separator: ", ") + ")")
            arguments += ids.map { SQLValue($0) }
        }
        var tail = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ") + " "
        tail += filter.order == .newestFirst ? "ORDER BY id DESC" : "ORDER BY id"
        if let limit = filter.limit {
            tail += " LIMIT ?"
            arguments.append(SQLValue(limit))
        }
        return (tail, arguments)
    }
}
