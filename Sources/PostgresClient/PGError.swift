import ProjectorCore

/// An error reported by PostgreSQL or libpq: the SQLSTATE and the server's fields, classified.
///
/// It never holds a connection string or a password, and never a statement's parameters.
public struct PGError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The server could not be reached: refused, timed out, unknown host, no socket.
        case connectionRefused
        /// The server refused the login: a wrong or missing password, no such role, pg_hba.
        case authenticationFailed
        /// The connection string or URL does not parse.
        case invalidConnectionString
        /// The connection broke or was closed (a terminated backend, a server restart, a network failure).
        case connectionLost
        /// 40001: the transaction could not be serialized; retry it.
        case serializationFailure
        /// 40P01: the transaction was chosen as a deadlock's victim; retry it.
        case deadlock
        /// 57014: the statement ran past `statement_timeout` (or was cancelled).
        case statementTimeout
        /// 55P03: a lock was not available (`NOWAIT`, `lock_timeout`).
        case lockNotAvailable
        /// 53100: the disk is full.
        case diskFull
        /// 42501, 25006: not allowed to write (a privilege, a read-only transaction or standby).
        case cannotWrite
        /// The statement failed on its own: a constraint, its syntax, its data, a missing table.
        case statement
        /// In a pipeline: not run, because an earlier statement of the same pipeline failed.
        case pipelineAborted
        /// Anything else (a resource limit, an internal error, a misuse).
        case other
    }

    public var kind: Kind
    /// The five-character SQLSTATE ("23505"); nil for errors libpq reports itself.
    public var sqlState: String?
    /// The primary message, without the severity ("duplicate key value violates unique constraint …").
    public var message: String
    public var detail: String?
    public var hint: String?
    /// The 1-based character position of the error in the statement, when the server gives one.
    public var position: Int?
    /// The statement's SQL (never its parameters).
    public var sql: String?
    /// In a pipeline: the 0-based index of the statement this error belongs to.
    public var statementIndex: Int?
    /// In a pipeline: the index of the statement whose failure aborted this one.
    public var failedStatementIndex: Int?

    public init(
        kind: Kind, sqlState: String? = nil, message: String, detail: String? = nil, hint: String? = nil,
        position: Int? = nil, sql: String? = nil
    ) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.position = position
        self.sql = sql
    }

    public var description: String {
        var text = ""
        if let statementIndex { text += "statement \(statementIndex) of the pipeline: " }
        if let sqlState { text += "SQLSTATE \(sqlState): " }
        text += message
        if let detail { text += " (\(detail))" }
        if let position { text += " at character \(position)" }
        if let sql {
            let oneLine = sql.split(whereSeparator: \.isNewline).map { $0.trimmingSpaces }.joined(separator: " ")
            text += " — in: " + (oneLine.count > 200 ? String(oneLine.prefix(200)) + "…" : oneLine)
        }
        if let hint { text += "; hint: \(hint)" }
        return text
    }

    /// The kind an SQLSTATE stands for; `statement` for a statement's own errors.
    public static func kind(sqlState: String) -> Kind {
        switch sqlState {
        case "40001": return .serializationFailure
        case "40P01": return .deadlock
        case "57014": return .statementTimeout
        case "55P03": return .lockNotAvailable
        case "53100": return .diskFull
        case "42501", "25006": return .cannotWrite
        case "28000", "28P01": return .authenticationFailed
        case "57P01", "57P02", "57P03": return .connectionLost
        default: break
        }
        switch sqlState.prefix(2) {
        // Data, constraints, syntax and access rules, a routine's own raise, cardinality, unsupported features.
        case "21", "22", "23", "42", "44", "2F", "38", "39", "P0", "0A", "27": return .statement
        case "08": return .connectionLost
        default: return .other
        }
    }
}
