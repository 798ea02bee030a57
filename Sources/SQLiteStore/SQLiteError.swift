public import ProjectorCore

/// An error reported by SQLite, in the shape of GRDB's `DatabaseError`: the result code, SQLite's
/// message and the statement's SQL (never its bound arguments).
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// The primary result code (`.constraint` for any constraint violation).
    public var code: ResultCode { extendedCode.primary }
    /// The extended result code as SQLite reported it (`.constraintUnique`, `.ioerrWrite`, …).
    public var extendedCode: ResultCode
    public var message: String
    public var sql: String?

    /// `code` may be a primary or an extended result code.
    public init(code: ResultCode, message: String, sql: String? = nil) {
        self.extendedCode = code
        self.message = message
        self.sql = sql
    }

    /// SQLITE_BUSY or SQLITE_LOCKED: another connection holds the lock past the busy timeout.
    public var isBusy: Bool { code == .busy || code == .locked }
    /// SQLITE_FULL: the disk (or a quota) is full.
    public var isDiskFull: Bool { code == .full }

    public var description: String {
        var text = "SQLite error \(code.rawValue): \(message)"
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

extension SQLiteError {
    /// The failure as the runner's store reports it, classified by its result code.
    public var storeError: StoreError {
        let kind: StoreError.Kind
        switch code {
        case .error, .toobig, .constraint, .mismatch, .range: kind = .statement
        case .busy, .locked: kind = .busy
        case .full: kind = .diskFull
        case .notadb: kind = .notADatabase
        case .perm, .readonly, .cantopen: kind = .cannotWrite
        default: kind = .other
        }
        return StoreError(kind: kind, message: message, code: "SQLite error \(code.rawValue)", description: description)
    }
}
