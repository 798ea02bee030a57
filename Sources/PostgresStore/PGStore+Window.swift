import PostgresClient
public import ProjectorCore

/// The duplicate window, kept as on every store (`WindowPairs`): a row of sorted
/// `(hash, position)` pairs per batch, small batches adding to the latest row, rows wholly outside
/// the window deleted in the batch transaction (docs/operations.md, "The duplicate window").
extension PGStore {
    public func firstPositions(of ids: EventIDList, window: DuplicateWindow) throws(StoreError) -> [Int] {
        guard !ids.isEmpty else { return [] }
        var lookup = WindowPairs.Lookup(ids)
        for row in try run("SELECT pairs FROM \(table("event_window_chunks"))") {
            (row.bytes(0) ?? []).withUnsafeBytes { lookup.match($0) }
        }
        let (first, fresh) = lookup.finish()
        try record(fresh, latestOccurredAt: ids.latestOccurredAt, window: window)
        return first
    }

    private func record(
        _ fresh: [(hash: Int64, position: Int)], latestOccurredAt: Double?, window: DuplicateWindow
    ) throws(StoreError) {
        let latest = try run(
            """
            SELECT chunk, ids, recorded, occurred_from, occurred_at, pairs, first_position, last_position
            FROM \(table("event_window_chunks")) ORDER BY chunk DESC LIMIT 1
            """
        ).first
        let total = (latest?.int(2) ?? 0) + fresh.count
        let occurred = [latest?.double(4), latestOccurredAt].compactMap { $0 }.max()
        if !fresh.isEmpty {
            var row = WindowPairs.Row(fresh: fresh, occurred: occurred)
            if let latest, let chunk = latest.int(0),
                WindowPairs.addsToLatestRow(
                    holding: latest.int(1) ?? 0, fresh: fresh.count, openedAt: latest.double(3), occurred: occurred,
                    window: window)
            {
                (latest.bytes(5) ?? []).withUnsafeBytes {
                    row.add(
                        latest: $0, firstPosition: latest.int(6) ?? row.firstPosition,
                        lastPosition: latest.int(7) ?? row.lastPosition, ids: latest.int(1) ?? 0,
                        occurredFrom: latest.double(3))
                }
                try run(
                    """
                    UPDATE \(table("event_window_chunks")) SET first_position = $2, last_position = $3, ids = $4,
                        recorded = $5, occurred_from = $6, occurred_at = $7, pairs = $8 WHERE chunk = $1
                    """,
                    [
                        chunk.parameter, row.firstPosition.parameter, row.lastPosition.parameter, row.ids.parameter,
                        total.parameter, row.occurredFrom?.parameter, occurred?.parameter, PGBytea.text(row.pairs),
                    ])
            } else {
                try run(
                    """
                    INSERT INTO \(table("event_window_chunks"))(first_position, last_position, ids, recorded,
                        occurred_from, occurred_at, pairs)
                    VALUES($1, $2, $3, $4, $5, $6, $7)
                    """,
                    [
                        row.firstPosition.parameter, row.lastPosition.parameter, row.ids.parameter, total.parameter,
                        row.occurredFrom?.parameter, occurred?.parameter, PGBytea.text(row.pairs),
                    ])
            }
        }
        // Rows wholly outside the window: every id both past the last `events` and older than `seconds`.
        let outside =
            "recorded <= $1 AND ($2::double precision IS NULL OR occurred_at IS NULL OR occurred_at < $2 - $3)"
        let bounds = [(total - window.events).parameter, occurred?.parameter, window.seconds.parameter]
        let doomed = try run(
            "SELECT max(last_position), max(occurred_at) FROM \(table("event_window_chunks")) WHERE \(outside)",
            bounds
        ).first
        guard let last = doomed?.int(0) else { return }
        try run("DELETE FROM \(table("event_window_chunks")) WHERE \(outside)", bounds)
        let note = """
            INSERT INTO \(table("meta"))(key, value) VALUES($1, $2)
            ON CONFLICT (key) DO UPDATE SET value = greatest(\(table("meta")).value::double precision,
                excluded.value::double precision)::text
            """
        try run(note, ["event_window_from", (last + 1).parameter])
        if let since = doomed?.double(1) { try run(note, ["event_window_since", since.parameter]) }
    }

    /// What the window holds (nil before any run created its table).
    public func duplicateWindowStatus() throws(StoreError) -> DuplicateWindowStatus? {
        let row = try run(
            "SELECT coalesce(sum(ids), 0), coalesce(max(recorded), 0) FROM \(table("event_window_chunks"))"
        ).first
        let meta = { (key: String) throws(StoreError) -> String? in
            try self.run("SELECT value FROM \(self.table("meta")) WHERE key = $1", [key]).first?.string(0)
        }
        let from = try meta("event_window_from").flatMap { Double($0) }.map { Int($0) } ?? 0
        return DuplicateWindowStatus(
            ids: row?.int(0) ?? 0, recorded: row?.int(1) ?? 0, fromPosition: from,
            since: from == 0 ? nil : try meta("event_window_since").flatMap { Double($0) })
    }
}
