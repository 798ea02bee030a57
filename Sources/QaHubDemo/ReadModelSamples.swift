import SQLiteStore

/// Rows of the demo's read models, to show them: the read models' database with the write model
/// attached as `app`.
public final class ReadModelSamples {
    let db: Database

    public init(databasePath: String, writeModelPath: String) throws {
        db = try Database(path: databasePath)
        try db.run("ATTACH DATABASE ? AS app", [.text(writeModelPath)])
    }

    /// The query's column names, then each of its rows, every value as text ("NULL" for null).
    public func rows(_ sql: String) throws -> [[String]] {
        let statement = try db.prepare(sql)
        var rows: [[String]] = [(0..<statement.columnCount).map { statement.columnName(at: $0) }]
        while try statement.step() {
            rows.append((0..<statement.columnCount).map { statement.value(at: $0).string ?? "NULL" })
        }
        return rows
    }
}
