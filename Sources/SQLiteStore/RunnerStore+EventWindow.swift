public import ProjectorCore

/// The de-duplication window (docs/operations.md, "The duplicate window"): the 64-bit hashes of
/// the ids that apply jobs handled, with their positions, in chunks: one row per batch (small
/// batches add to the latest row), each a blob of `(hash, position)` pairs sorted by hash.
///
/// A row per batch rather than a B-tree row per id: a random B-tree insert for every event an
/// apply job handled was a fifth of an apply-heavy run, and pruning it walked the tree. Now a
/// batch writes one row, pruning deletes whole rows, and looking ids up reads the window's
/// blobs once per batch and walks each against the batch's sorted hashes: work linear in the
/// window, which its bounds keep small (100,000 ids are 1.6 MB).
extension RunnerStore: EventIDWindow {
    /// For each id, the earliest position at which an id with its hash was seen; the first of
    /// each hash is recorded. Then the window's rows wholly outside it are deleted.
    public func firstPositions(of ids: EventIDList, window: DuplicateWindow) throws(StoreError) -> [Int] {
        guard !ids.isEmpty else { return [] }
        return try sqlite { () throws(SQLiteError) in
            var lookup = WindowPairs.Lookup(ids)
            let scan = try cached("SELECT pairs FROM projector_event_window_chunks")
            while try scan.step() {
                scan.withBlob(at: 0) { lookup.match($0) }
            }
            let (first, fresh) = lookup.finish()
            try record(fresh, latestOccurredAt: ids.latestOccurredAt, window: window)
            return first
        }
    }

    /// The latest row: where a small batch's ids go.
    private struct LatestChunk {
        var chunk: Int
        var ids: Int
        var recorded: Int
        var occurredFrom: Double?
        var occurredAt: Double?
    }

    /// Adds `fresh` (sorted by hash) to the window: to the latest row while it holds less than a
    /// sixteenth of the window (in ids and in time), else as a row of its own; then deletes the
    /// rows whose every id is both past the last `window.events` ids and older than
    /// `window.seconds` behind the latest `occurredAt`.
    func record(
        _ fresh: [(hash: Int64, position: Int)], latestOccurredAt: Double?, window: DuplicateWindow
    ) throws(SQLiteError) {
        let latestRow = try cached(
            """
            SELECT chunk, ids, recorded, occurred_from, occurred_at FROM projector_event_window_chunks
            ORDER BY chunk DESC LIMIT 1
            """)
        var latest: LatestChunk?
        while try latestRow.step() {
            latest = LatestChunk(
                chunk: latestRow.int(at: 0), ids: latestRow.int(at: 1), recorded: latestRow.int(at: 2),
                occurredFrom: latestRow.isNull(at: 3) ? nil : latestRow.value(at: 3).double,
                occurredAt: latestRow.isNull(at: 4) ? nil : latestRow.value(at: 4).double)
        }
        let total = (latest?.recorded ?? 0) + fresh.count
        let occurred = [latest?.occurredAt, latestOccurredAt].compactMap { $0 }.max()
        if !fresh.isEmpty {
            var row = WindowPairs.Row(fresh: fresh, occurred: occurred)
            var replacing: Int?
            if let latest,
                WindowPairs.addsToLatestRow(
                    holding: latest.ids, fresh: fresh.count, openedAt: latest.occurredFrom, occurred: occurred,
                    window: window)
            {
                let read = try cached(
                    "SELECT pairs, first_position, last_position FROM projector_event_window_chunks WHERE chunk = ?")
                try read.bind(int: latest.chunk, at: 1)
                while try read.step() {
                    read.withBlob(at: 0) {
                        row.add(
                            latest: $0, firstPosition: read.int(at: 1), lastPosition: read.int(at: 2), ids: latest.ids,
                            occurredFrom: latest.occurredFrom)
                    }
                }
                replacing = latest.chunk
            }
            let write = try cached(
                """
                INSERT OR REPLACE INTO projector_event_window_chunks(
                    chunk, first_position, last_position, ids, recorded, occurred_from, occurred_at, pairs)
                VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                """)
            try write.bind(replacing.map { .integer(Int64($0)) } ?? .null, at: 1)
            try write.bind(int: row.firstPosition, at: 2)
            try write.bind(int: row.lastPosition, at: 3)
            try write.bind(int: row.ids, at: 4)
            try write.bind(int: total, at: 5)
            try write.bind(row.occurredFrom.map { .real($0) } ?? .null, at: 6)
            try write.bind(occurred.map { .real($0) } ?? .null, at: 7)
            try write.bind(.blob(row.pairs), at: 8)
            try write.run()
        }
        try prune(total: total, occurred: occurred, window: window)
    }

    /// Deletes the rows wholly outside the window, noting in `projector_meta` from which position
    /// (and `occurredAt`) every id is remembered, for `status`.
    private func prune(total: Int, occurred: Double?, window: DuplicateWindow) throws(SQLiteError) {
        let outside = "recorded <= ?1 AND (?2 IS NULL OR occurred_at IS NULL OR occurred_at < ?2 - ?3)"
        let doomed = try cached(
            "SELECT max(last_position), max(occurred_at) FROM projector_event_window_chunks WHERE \(outside)")
        let bindWindow = { (statement: Statement) throws(SQLiteError) in
            try statement.bind(int: total - window.events, at: 1)
            try statement.bind(occurred.map { .real($0) } ?? .null, at: 2)
            try statement.bind(.real(window.seconds), at: 3)
        }
        try bindWindow(doomed)
        var last: Int?
        var since: Double?
        while try doomed.step() {
            if !doomed.isNull(at: 0) { last = doomed.int(at: 0) }
            if !doomed.isNull(at: 1) { since = doomed.value(at: 1).double }
        }
        guard let last else { return }
        let delete = try cached("DELETE FROM projector_event_window_chunks WHERE \(outside)")
        try bindWindow(delete)
        try delete.run()
        let note = try cached(
            """
            INSERT INTO projector_meta(key, value) VALUES(?1, ?2)
            ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)
            """)
        try note.bind(.text("event_window_from"), at: 1)
        try note.bind(int: last + 1, at: 2)
        try note.run()
        if let since {
            try note.bind(.text("event_window_since"), at: 1)
            try note.bind(.real(since), at: 2)
            try note.run()
        }
    }

    /// What the window holds (nil before any run created its table).
    public func duplicateWindowStatus() throws(StoreError) -> DuplicateWindowStatus? {
        guard try hasTable("projector_event_window_chunks") else { return nil }
        return try sqlite { () throws(SQLiteError) in
            let row = try db.rows(
                "SELECT coalesce(sum(ids), 0), coalesce(max(recorded), 0) FROM projector_event_window_chunks"
            )
            .first
            let meta = { (key: String) throws(SQLiteError) -> SQLValue? in
                try self.db.rows("SELECT value FROM projector_meta WHERE key = ?", [.text(key)]).first?[0]
            }
            let from = try meta("event_window_from")?.int ?? 0
            return DuplicateWindowStatus(
                ids: row?[0].int ?? 0, recorded: row?[1].int ?? 0, fromPosition: from,
                since: from == 0 ? nil : try meta("event_window_since")?.double)
        }
    }

    /// Replaces the de-duplication tables of earlier versions, in the transaction that creates
    /// the new one: every id as text for ever (`projector_event_ids`: its latest
    /// `DuplicateWindow.default.events` ids by position are carried over), or a B-tree row per
    /// hash (`projector_event_window` and its marks: all of it is carried over); as one row
    /// without an `occurredAt`, so a duplicate appended just after the upgrade of an event
    /// appended just before it is still found.
    func upgradeEventIDs() throws(SQLiteError) {
        let exists = { (name: String) throws(SQLiteError) -> Bool in
            !(try self.db.rows("SELECT 1 FROM sqlite_master WHERE name = ?", [.text(name)]).isEmpty)
        }
        var carried: [(hash: Int64, position: Int)] = []
        var recorded: Int?
        if try exists("projector_event_ids") {
            let rows = try db.rows(
                "SELECT id, position FROM projector_event_ids ORDER BY position DESC LIMIT ?",
                [SQLValue(DuplicateWindow.default.events)])
            for row in rows {
                guard case .text(let id) = row[0], let position = row[1].int else { continue }
                carried.append((Int64(bitPattern: Fingerprint.fnv1a(id)), position))
            }
            try db.execute("DROP TABLE projector_event_ids")
        }
        if try exists("projector_event_window") {
            for row in try db.rows("SELECT hash, position FROM projector_event_window") {
                guard let hash = row[0].int, let position = row[1].int else { continue }
                carried.append((Int64(hash), position))
            }
            if try exists("projector_event_window_marks") {
                recorded = try db.rows("SELECT max(recorded) FROM projector_event_window_marks").first?[0].int
                try db.execute("DROP TABLE projector_event_window_marks")
            }
            try db.execute(
                "DROP TABLE projector_event_window; DELETE FROM projector_meta WHERE key = 'event_window_sweep'")
        }
        guard !carried.isEmpty else { return }
        // One pair per hash, its earliest position.
        carried.sort { ($0.hash, $0.position) < ($1.hash, $1.position) }
        var unique: [(hash: Int64, position: Int)] = []
        for pair in carried where unique.last?.hash != pair.hash { unique.append(pair) }
        try db.run(
            """
            INSERT INTO projector_event_window_chunks(
                first_position, last_position, ids, recorded, occurred_from, occurred_at, pairs)
            VALUES(?, ?, ?, ?, NULL, NULL, ?)
            """,
            [
                SQLValue(unique.map(\.position).min() ?? 0), SQLValue(unique.map(\.position).max() ?? 0),
                SQLValue(unique.count), SQLValue(max(recorded ?? 0, unique.count)), .blob(WindowPairs.pack(unique)),
            ])
    }
}
