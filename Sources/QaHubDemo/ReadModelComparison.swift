import SQLiteStore

/// Compares a table of two databases row by row (both directions of EXCEPT), to check a read
/// model against a full recompute.
public enum ReadModelComparison {
    public struct Difference: Sendable, CustomStringConvertible {
        public var table: String
        public var onlyInFirst: Int
        public var onlyInSecond: Int
        public var rowsFirst: Int
        public var rowsSecond: Int

        public var isEqual: Bool { onlyInFirst == 0 && onlyInSecond == 0 }

        public var description: String {
            isEqual
                ? "\(table): \(rowsFirst) rows, identical"
                : "\(table): \(onlyInFirst) rows only in the first, \(onlyInSecond) only in the second (\(rowsFirst) vs \(rowsSecond) rows)"
        }
    }

    public static func compare(_ first: String, _ second: String, tables: [String]) throws -> [Difference] {
        let db = try Database(path: first)
        try db.run("ATTACH DATABASE ? AS other", [.text(second)])
        return try tables.map { table in
            let onlyFirst = try db.rows(
                "SELECT count(*) FROM (SELECT * FROM main.\(table) EXCEPT SELECT * FROM other.\(table))")
            let onlySecond = try db.rows(
                "SELECT count(*) FROM (SELECT * FROM other.\(table) EXCEPT SELECT * FROM main.\(table))")
            let rowsFirst = try db.rows("SELECT count(*) FROM main.\(table)")
            let rowsSecond = try db.rows("SELECT count(*) FROM other.\(table)")
            return Difference(
                table: table, onlyInFirst: onlyFirst[0][0].int ?? -1, onlyInSecond: onlySecond[0][0].int ?? -1,
                rowsFirst: rowsFirst[0][0].int ?? -1, rowsSecond: rowsSecond[0][0].int ?? -1
            )
        }
    }
}
