import CSQLite

/// A connection to one SQLite database file, owned by one task at a time (not `Sendable`).
///
/// Transactions are synchronous closures, so nothing can `await` while the write lock is held.
public final class Database {
    let handle: OpaquePointer
    public let path: String

    public struct Options: Sendable {
        public var busyTimeoutMilliseconds: Int32 = 5000
        /// `NORMAL` is safe in WAL mode for projector: a power loss can only take back the last
        /// commits, and the journal replays them. `FULL` is there for those who want it anyway.
        public var synchronous: String = "NORMAL"
        public var cacheSizeKiB: Int = 16 * 1024
        public var mmapSizeBytes: Int = 0
        public var readOnly = false
        public var walMode = true

        public init() {}

        /// SQLite's own defaults: rollback journal, `synchronous=FULL`, default cache.
        public static var untuned: Options {
            var options = Options()
            options.synchronous = "FULL"
            options.cacheSizeKiB = 0
            options.mmapSizeBytes = 0
            options.walMode = false
            return options
        }
    }

    public init(path: String, options: Options = Options()) throws(SQLiteError) {
        self.path = path
        var db: OpaquePointer?
        let flags =
            (options.readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
            | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: ResultCode(rawValue: rc), message: "cannot open \(path): \(message)")
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, options.busyTimeoutMilliseconds)
        // The first statements are the first to read the file: their errors ("file is not a
        // database", "attempt to write a readonly database") name it.
        do throws(SQLiteError) {
            if options.walMode && !options.readOnly {
                try execute("PRAGMA journal_mode=WAL")
            }
            try execute("PRAGMA synchronous=\(options.synchronous)")
            if options.cacheSizeKiB > 0 { try execute("PRAGMA cache_size=-\(options.cacheSizeKiB)") }
            if options.mmapSizeBytes > 0 { try execute("PRAGMA mmap_size=\(options.mmapSizeBytes)") }
            try execute("PRAGMA foreign_keys=ON")
        } catch {
            var named = error
            named.message = "\(path): \(error.message)"
            throw named
        }
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    /// Process-wide SQLite settings: memory statistics off (they take a global mutex around every
    /// allocation, and projector never reads them). SQLite allows this only before its first use
    /// and while no other thread calls it, so an executable calls it first thing in `main`.
    public static func configureProcess() {
        _ = projector_sqlite_configure()
    }

    /// Runs one or more statements that return no rows we need.
    public func execute(_ sql: String) throws(SQLiteError) {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if rc != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(errorMessage)
            throw SQLiteError(code: ResultCode(rawValue: rc), message: message, sql: sql)
        }
    }

    /// Prepares one statement (the first of `sql`).
    public func prepare(_ sql: String) throws(SQLiteError) -> Statement {
        var statements: [(statement: Statement, offset: Int)]
        do {
            statements = try prepareAll(sql)
        } catch {
            throw error.error
        }
        guard !statements.isEmpty else {
            throw SQLiteError(code: .misuse, message: "no statement to prepare", sql: sql)
        }
        return statements.removeFirst().statement
    }

    /// Prepares every statement of a script, returning each with the UTF-8 offset where it starts
    /// (to turn an error into a file line). On error, `offset` in the thrown error's context says where.
    public func prepareAll(_ sql: String) throws(PrepareError) -> [(statement: Statement, offset: Int)] {
        try prepareAll(sql, executing: false)
    }

    /// Runs every statement of a script in turn (each is prepared only after the previous one ran,
    /// so later statements may use what earlier ones created). Errors carry the statement's offset.
    public func executeAll(_ sql: String) throws(PrepareError) {
        _ = try prepareAll(sql, executing: true)
    }

    /// Runs every statement of a script in turn, calling `ran` with each statement's offset after it ran.
    public func executeAll(_ sql: String, ran: (Int) -> Void) throws(PrepareError) {
        _ = try prepareAll(sql, executing: true, ran: ran)
    }

    private func prepareAll(_ sql: String, executing: Bool, ran: (Int) -> Void = { _ in }) throws(PrepareError)
        -> [(statement: Statement, offset: Int)]
    {
        var result: [(Statement, Int)] = []
        var utf8 = Array(sql.utf8)
        utf8.append(0)
        let count = utf8.count - 1
        var failure: PrepareError?
        utf8.withUnsafeBufferPointer { buffer in
            guard let start = buffer.baseAddress else { return }
            let base = UnsafeRawPointer(start).assumingMemoryBound(to: CChar.self)
            var offset = 0
            while offset < count {
                var statement: OpaquePointer?
                var tail: UnsafePointer<CChar>?
                let rc = sqlite3_prepare_v3(
                    handle, base + offset, Int32(count - offset), UInt32(SQLITE_PREPARE_PERSISTENT), &statement, &tail
                )
                let start = offset + leadingSpace(base + offset, count - offset)
                guard rc == SQLITE_OK else {
                    let text = String(
                        decoding: UnsafeRawBufferPointer(start: base + offset, count: count - offset).prefix(400),
                        as: UTF8.self)
                    failure = PrepareError(
                        error: SQLiteError(
                            code: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(handle)),
                            sql: text),
                        offset: start
                    )
                    return
                }
                let next = tail.map { $0 - base } ?? count
                if let statement {
                    let text = String(
                        decoding: UnsafeRawBufferPointer(start: base + start, count: max(0, next - start)),
                        as: UTF8.self)
                    let prepared = Statement(statement, database: self, sql: text)
                    if executing {
                        do throws(SQLiteError) {
                            try prepared.run()
                        } catch {
                            failure = PrepareError(error: error, offset: start)
                            return
                        }
                        ran(start)
                    } else {
                        result.append((prepared, start))
                    }
                }
                if next <= offset { break }
                offset = next
            }
        }
        if let failure { throw failure }
        return result
    }

    /// Skips whitespace and SQL comments so a statement's offset points at its first token.
    private func leadingSpace(_ p: UnsafePointer<CChar>, _ n: Int) -> Int {
        var i = 0
        while i < n {
            let c = UInt8(bitPattern: p[i])
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D {
                i += 1
            } else if c == UInt8(ascii: "-"), i + 1 < n, p[i + 1] == CChar(UInt8(ascii: "-")) {
                while i < n, p[i] != 0x0A { i += 1 }
            } else {
                break
            }
        }
        return i
    }

    /// Rows changed by the last statement.
    public var changes: Int { Int(sqlite3_changes(handle)) }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction: committed when it returns, rolled back when it throws.
    public func transaction<T>(_ body: () throws(SQLiteError) -> T) throws(SQLiteError) -> T {
        try execute("BEGIN IMMEDIATE")
        do throws(SQLiteError) {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Runs `body` inside a savepoint: released when it returns, rolled back (alone) when it throws.
    public func savepoint<T>(_ name: String = "projector_key", _ body: () throws(SQLiteError) -> T) throws(SQLiteError)
        -> T
    {
        try execute("SAVEPOINT \(name)")
        do throws(SQLiteError) {
            let value = try body()
            try execute("RELEASE \(name)")
            return value
        } catch {
            try execute("ROLLBACK TO \(name); RELEASE \(name)")
            throw error
        }
    }

    public var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Runs a query and returns every row's columns as optional text (for small bookkeeping reads).
    public func rows(_ sql: String, _ arguments: [SQLValue] = []) throws(SQLiteError) -> [[SQLValue]] {
        let statement = try prepare(sql)
        for (index, argument) in arguments.enumerated() { try statement.bind(argument, at: Int32(index + 1)) }
        var rows: [[SQLValue]] = []
        while try statement.step() {
            rows.append((0..<statement.columnCount).map { statement.value(at: $0) })
        }
        return rows
    }

    /// Runs a statement with positional arguments.
    public func run(_ sql: String, _ arguments: [SQLValue] = []) throws(SQLiteError) {
        let statement = try prepare(sql)
        for (index, argument) in arguments.enumerated() { try statement.bind(argument, at: Int32(index + 1)) }
        while try statement.step() {}
    }

    func error(sql: String?) -> SQLiteError {
        let extended = sqlite3_extended_errcode(handle)
        return SQLiteError(
            code: ResultCode(rawValue: extended), message: String(cString: sqlite3_errmsg(handle)), sql: sql
        )
    }
}

/// A statement that failed to prepare, with the offset in the script where it starts.
public struct PrepareError: Error, Sendable, CustomStringConvertible {
    public var error: SQLiteError
    public var offset: Int

    public var description: String { error.description }
}
