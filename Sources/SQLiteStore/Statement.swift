import CSQLite

/// A prepared statement, reused across executions (reset between them). Not `Sendable`.
public final class Statement {
    let handle: OpaquePointer
    unowned let database: Database
    public let sql: String

    init(_ handle: OpaquePointer, database: Database, sql: String) {
        self.handle = handle
        self.database = database
        self.sql = sql
    }

    deinit {
        sqlite3_finalize(handle)
    }

    public var parameterCount: Int32 { sqlite3_bind_parameter_count(handle) }

    /// The name of parameter `index` (1-based), e.g. `:key`.
    public func parameterName(at index: Int32) -> String? {
        sqlite3_bind_parameter_name(handle, index).map { String(cString: $0) }
    }

    public var columnCount: Int32 { sqlite3_column_count(handle) }

    public func columnName(at index: Int32) -> String {
        sqlite3_column_name(handle, index).map { String(cString: $0) } ?? ""
    }

    public var isReadOnly: Bool { sqlite3_stmt_readonly(handle) != 0 }

    @inline(__always)
    func check(_ rc: Int32) throws(SQLiteError) {
        if rc != SQLITE_OK { throw database.error(sql: sql) }
    }

    public func bind(_ value: SQLValue, at index: Int32) throws(SQLiteError) {
        switch value {
        case .null: try check(sqlite3_bind_null(handle, index))
        case .integer(let v): try check(sqlite3_bind_int64(handle, index, v))
        case .real(let v): try check(sqlite3_bind_double(handle, index, v))
        case .text(let v): try check(sqlite3_bind_text(handle, index, v, -1, projector_sqlite_transient()))
        case .blob(let v):
            let rc = v.withUnsafeBytes { buffer in
                sqlite3_bind_blob(handle, index, buffer.baseAddress, Int32(buffer.count), projector_sqlite_transient())
            }
            try check(rc)
        }
    }

    @inline(__always)
    public func bind(int value: Int, at index: Int32) throws(SQLiteError) {
        try check(sqlite3_bind_int64(handle, index, Int64(value)))
    }

    @inline(__always)
    public func bindNull(at index: Int32) throws(SQLiteError) {
        try check(sqlite3_bind_null(handle, index))
    }

    /// Binds UTF-8 text without copying: the bytes must stay valid until the statement is reset.
    /// Only this package's code binds so (an event's bytes in a batch's arena, which outlives the
    /// statement's execution).
    @inline(__always)
    package func bind(borrowedText bytes: UnsafeRawBufferPointer, at index: Int32) throws(SQLiteError) {
        let pointer = bytes.baseAddress?.assumingMemoryBound(to: CChar.self) ?? UnsafePointer(bitPattern: 1)
        try check(sqlite3_bind_text(handle, index, pointer, Int32(bytes.count), projector_sqlite_static()))
    }

    @inline(__always)
    public func bind(text: String, at index: Int32) throws(SQLiteError) {
        try check(sqlite3_bind_text(handle, index, text, -1, projector_sqlite_transient()))
    }

    /// Steps once: true when a row is available, false when done.
    @inline(__always)
    public func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE {
            sqlite3_reset(handle)
            return false
        }
        let error = database.error(sql: sql)
        sqlite3_reset(handle)
        throw error
    }

    /// Steps to completion, ignoring rows.
    @inline(__always)
    public func run() throws(SQLiteError) {
        while try step() {}
    }

    @inline(__always)
    public func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    public func value(at column: Int32) -> SQLValue {
        switch sqlite3_column_type(handle, column) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, column))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, column))
        case SQLITE_TEXT: return .text(text(at: column) ?? "")
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(handle, column))
            guard let p = sqlite3_column_blob(handle, column) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: p, count: count)))
        default: return .null
        }
    }

    /// Lends a blob column's bytes without copying them (valid only inside `body`).
    package func withBlob<T>(at column: Int32, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        let count = Int(sqlite3_column_bytes(handle, column))
        return body(UnsafeRawBufferPointer(start: sqlite3_column_blob(handle, column), count: count))
    }

    public func text(at column: Int32) -> String? {
        guard let p = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeRawBufferPointer(start: p, count: count), as: UTF8.self)
    }

    public func int(at column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }

    public func isNull(at column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
}
