public import PostgresClient

/// The demo's read models on PostgreSQL: rows to show, and a table compared with the same table of
/// another database (a full recompute), row for row.
public enum PostgresReadModels {
    /// The query's column names, then each of its rows, every value as text ("NULL" for null).
    public static func rows(_ connection: PGConnection, _ sql: String) throws -> [[String]] {
        let result = try connection.query(sql)
        var rows: [[String]] = [(0..<result.columnCount).map { result.columnName($0) }]
        for row in result { rows.append((0..<result.columnCount).map { row.string($0) ?? "NULL" }) }
        return rows
    }

    /// Compares each table of two databases as multisets of rows (both directions of EXCEPT ALL,
    /// counted on the rows' text form, since one query cannot read two databases).
    public static func compare(
        _ first: PGConnection, _ second: PGConnection, tables: [String]
    ) throws -> [ReadModelComparison.Difference] {
        try tables.map { table in
            let sql = "SELECT * FROM \(table)"
            let firstRows = try rows(first, sql).dropFirst()
            let secondRows = try rows(second, sql).dropFirst()
            var counts: [[String]: Int] = [:]
            for row in firstRows { counts[row, default: 0] += 1 }
            for row in secondRows { counts[row, default: 0] -= 1 }
            return ReadModelComparison.Difference(
                table: table,
                onlyInFirst: counts.values.filter { $0 > 0 }.reduce(0, +),
                onlyInSecond: -counts.values.filter { $0 < 0 }.reduce(0, +),
                rowsFirst: firstRows.count, rowsSecond: secondRows.count)
        }
    }
}
