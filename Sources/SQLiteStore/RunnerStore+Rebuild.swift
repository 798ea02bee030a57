public import ProjectorCore

/// A rebuild without downtime on SQLite: the job's read model is built in a scratch database of
/// its own, then swapped into the live one in one transaction.
extension RunnerStore {
    /// The fingerprint of `job`'s checkpoint in the scratch database at `path` (nil: no checkpoint
    /// yet). Throws when the file cannot be read as a database.
    public static func scratchFingerprint(at path: String, job: String) throws(StoreError) -> String? {
        do throws(SQLiteError) {
            let db = try Database(path: path)
            let rows = try db.rows("SELECT fingerprint FROM projector_checkpoints WHERE job = ?", [.text(job)])
            return rows.first?.first?.string
        } catch {
            throw error.storeError
        }
    }

    /// Reads the database at `path` once, so that a file that is not one is told apart.
    public static func checkReadable(_ path: String) throws(StoreError) {
        do throws(SQLiteError) {
            _ = try Database(path: path).rows("SELECT count(*) FROM sqlite_master")
        } catch {
            throw error.storeError
        }
    }

    /// In one transaction: replaces (from the scratch database at `scratchPath`) the job's tables (definition, rows, indexes, triggers) with the
    /// scratch database's, and its checkpoint, failures, held events and waits; then runs `also`
    /// (given the new position) in the same transaction, to queue the rebuild's notification.
    public func swapIn(
        job: String, scratchPath: String, also: (Int) throws(StoreError) -> Void
    ) throws(StoreError) -> ReadModelSwap {
        try sqlite { () throws(SQLiteError) in
            try db.run("ATTACH DATABASE ? AS projector_rebuild", [.text(scratchPath)])
        }
        defer { try? db.execute("DETACH DATABASE projector_rebuild") }
        let objects = try sqlite { () throws(SQLiteError) in
            try db.rows(
                """
                SELECT type, name, tbl_name, sql FROM projector_rebuild.sqlite_master
                WHERE sql IS NOT NULL AND name NOT LIKE 'projector\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
                ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END
                """)
        }
        let tables = objects.filter { $0[0].string == "table" }.compactMap { $0[1].string }
        return try transaction { () throws(StoreError) in
            let position = try sqlite { () throws(SQLiteError) in
                for table in tables {
                    try db.execute("DROP TABLE IF EXISTS main.\(Self.quote(table))")
                }
                for object in objects {
                    guard let sql = object[3].string else { continue }
                    try db.execute(sql)
                    if object[0].string == "table", let table = object[1].string {
                        try db.execute(
                            "INSERT INTO main.\(Self.quote(table)) SELECT * FROM projector_rebuild.\(Self.quote(table))"
                        )
                    }
                }
                for table in [
                    "projector_checkpoints", "projector_failures", "projector_held_events", "projector_failure_waits",
                ] {
                    try db.run("DELETE FROM main.\(table) WHERE job = ?", [.text(job)])
                    try db.run(
                        "INSERT INTO main.\(table) SELECT * FROM projector_rebuild.\(table) WHERE job = ?", [.text(job)]
                    )
                }
                return try db.rows("SELECT position FROM main.projector_checkpoints WHERE job = ?", [.text(job)])
                    .first?.first?.int ?? 0
            }
            try also(position)
            return ReadModelSwap(tables: tables, position: position)
        }
    }
}
