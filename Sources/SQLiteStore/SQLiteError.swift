/// An error reported by SQLite, in the shape of GRDB's `DatabaseError`: the result code, SQLite's
/// message and the statement's SQL (never its bound arguments).
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    public var code: Int32
    public var extendedCode: Int32
    public var message: String
    public var sql: String?

    public init(code: Int32, extendedCode: Int32? = nil, message: String, sql: String? = nil) {
        self.code = code
        self.extendedCode = extendedCode ?? code
        self.message = message
        self.sql = sql
    }

    /// SQLITE_BUSY or SQLITE_LOCKED: another connection holds the lock past the busy timeout.
    public var isBusy: Bool { code == 5 || code == 6 }
    /// SQLITE_FULL: the disk (or a quota) is full.
    public var isDiskFull: Bool { code == 13 }

    public var description: String {
        var text = "SQLite error \(code): \(message)"
        if let sql {
            let oneLine = sql.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters() }.joined(separator: " ")
            text += " — in: " + (oneLine.count > 200 ? String(oneLine.prefix(200)) + "…" : oneLine)
        }
        return text
    }
}

extension Substring {
    func trimmingCharacters() -> Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return s
    }
}
