public import ProjectorCore

/// One prepared statement of a job section and the index of each parameter it uses.
public struct BoundStatement {
    public let statement: Statement
    /// Parameter index (1-based) per `JobParameter`, 0 when the statement does not use it.
    public let indices: [Int32]
    /// The file line the statement starts on.
    public let line: Int

    @inline(__always)
    public func index(_ parameter: JobParameter) -> Int32 {
        indices[parameter.ordinal]
    }
}

/// A job whose SQL is prepared against the database: statements are reused for the whole run.
public final class CompiledJob {
    public let definition: JobDefinition
    public let body: [BoundStatement]
    public let keys: Statement?
    /// `@refresh_batch`'s statements and what fills and empties the batch's keys table, when the
    /// job has that section.
    let batch: BatchStatements?

    /// Prepares every statement of the job, reporting problems as `file:line: message`.
    /// The `@setup` section must already have run (the statements refer to its tables).
    public init(_ definition: JobDefinition, db: Database) throws(JobFileErrors) {
        self.definition = definition
        let allowed = Set(JobParameter.allowed(in: definition.mode))
        var errors: [JobFileError] = []
        var body: [BoundStatement] = []
        do {
            for (statement, offset) in try db.prepareAll(definition.body.text) {
                let line = Self.line(of: offset, in: definition.body)
                var indices = [Int32](repeating: 0, count: JobParameter.allCases.count)
                for index in stride(from: Int32(1), through: statement.parameterCount, by: 1) {
                    let raw = statement.parameterName(at: index) ?? "?"
                    let name = String(raw.dropFirst())
                    guard raw.count > 1, let parameter = JobParameter(rawValue: name), allowed.contains(parameter)
                    else {
                        let known = allowed.map { ":" + $0.rawValue }.sorted().joined(separator: ", ")
                        errors.append(
                            JobFileError(
                                file: definition.file, line: line,
                                message:
                                    "unknown parameter '\(raw)' in @\(definition.mode.rawValue) (available: \(known))"
                            )
                        )
                        continue
                    }
                    indices[parameter.ordinal] = index
                }
                body.append(BoundStatement(statement: statement, indices: indices, line: line))
            }
        } catch {
            errors.append(
                JobFileError(
                    file: definition.file, line: Self.line(of: error.offset, in: definition.body),
                    message: error.error.message
                )
            )
        }
        var keys: Statement?
        if let section = definition.keys {
            do {
                let statements = try db.prepareAll(section.text)
                if statements.count != 1 {
                    errors.append(
                        JobFileError(
                            file: definition.file, line: section.line, message: "'@keys' must be exactly one query")
                    )
                } else if let (statement, offset) = statements.first {
                    if statement.columnCount < 1 || !statement.isReadOnly {
                        errors.append(
                            JobFileError(
                                file: definition.file, line: Self.line(of: offset, in: section),
                                message: "'@keys' must be a query returning the keys in its first column"
                            )
                        )
                    }
                    keys = statement
                }
            } catch {
                errors.append(
                    JobFileError(
                        file: definition.file, line: Self.line(of: error.offset, in: section),
                        message: error.error.message
                    )
                )
            }
        }
        var batch: BatchStatements?
        if let section = definition.batchRefresh {
            do throws(JobFileError) {
                batch = try BatchStatements(section, file: definition.file, db: db)
            } catch {
                errors.append(error)
            }
        }
        guard errors.isEmpty else { throw JobFileErrors(errors) }
        self.body = body
        self.keys = keys
        self.batch = batch
    }

    /// Runs the job's `@setup` section (idempotent DDL), statement by statement.
    public static func setup(_ definition: JobDefinition, db: Database) throws(JobFileErrors) {
        guard let setup = definition.setup else { return }
        do {
            try db.executeAll(setup.text)
        } catch {
            throw JobFileErrors([
                JobFileError(
                    file: definition.file, line: line(of: error.offset, in: setup),
                    message: "@setup: \(error.error.message)"
                )
            ])
        }
    }

    /// The tables a job's `@setup` creates, found by running it in an empty in-memory database
    /// (empty when it cannot run there, e.g. when it refers to an attached database).
    public static func tablesCreated(by definition: JobDefinition) -> [String] {
        let (tables, complete) = tableOrigins(of: definition)
        return complete ? tables.map(\.0) : []
    }

    /// Each table a job's `@setup` creates with the file line of the statement that creates it,
    /// found by running the statements one by one in an empty in-memory database. `complete` is
    /// false when a statement cannot run there (e.g. it refers to an attached database): the
    /// tables are then those created before it.
    public static func tableOrigins(of definition: JobDefinition) -> (tables: [(String, line: Int)], complete: Bool) {
        guard let setup = definition.setup, let scratch = try? Database(path: ":memory:") else { return ([], true) }
        func names() -> [String] {
            let rows =
                (try? scratch.rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"))
                ?? []
            return rows.compactMap { $0[0].string }
        }
        var tables: [(String, line: Int)] = []
        var known: Set<String> = []
        let complete =
            (try? scratch.executeAll(setup.text) { offset in
                for name in names() where !known.contains(name) {
                    known.insert(name)
                    tables.append((name, line(of: offset, in: setup)))
                }
            }) != nil
        return (tables, complete)
    }

    /// The file line of a byte offset inside a section.
    static func line(of offset: Int, in section: SQLSection) -> Int {
        var line = section.line
        for byte in section.text.utf8.prefix(offset) where byte == 0x0A { line += 1 }
        return line
    }

}

/// A job's `@refresh_batch`, prepared, with the temporary table its statements read the batch's
/// keys from: `temp.batch_keys(key)`, one row per key, filled before and emptied after each pass.
///
/// The table lives in the connection's `temp` schema, so it is never written to the database file
/// (nor to an attached one) and every job of the connection shares it. Unqualified, its name is
/// found in `temp` before `main` and the attached databases, so a read-model table of the same
/// name would be hidden behind it: that is refused when the section is prepared.
struct BatchStatements {
    let statements: [Statement]
    let create: Statement
    let clear: Statement
    let insert: Statement

    static let table = JobFileParser.batchKeysTable

    init(_ section: SQLSection, file: String, db: Database) throws(JobFileError) {
        func failure(_ line: Int, _ message: String) -> JobFileError {
            JobFileError(file: file, line: line, message: message)
        }
        let marker = section.line - 1
        var hiding: String?
        do throws(SQLiteError) {
            for row in try db.rows("PRAGMA database_list") {
                guard let schema = row[1].string, schema != "temp", hiding == nil else { continue }
                let found = try db.rows(
                    "SELECT 1 FROM \(RunnerStore.quote(schema)).sqlite_master WHERE type IN ('table', 'view') "
                        + "AND name = ? COLLATE NOCASE",
                    [.text(Self.table)])
                if !found.isEmpty { hiding = schema }
            }
            create = try db.prepare("CREATE TEMP TABLE IF NOT EXISTS \(Self.table)(key PRIMARY KEY)")
            try create.run()
            clear = try db.prepare("DELETE FROM temp.\(Self.table)")
            insert = try db.prepare("INSERT OR IGNORE INTO temp.\(Self.table)(key) VALUES (?)")
        } catch {
            throw failure(marker, "@refresh_batch: \(error.message)")
        }
        if let hiding {
            throw failure(
                marker,
                "'@refresh_batch' reads the batch's keys from the temporary table \(Self.table), but "
                    + "\(hiding).\(Self.table) exists and would be hidden behind it; rename that table")
        }
        var statements: [Statement] = []
        do throws(PrepareError) {
            for (statement, offset) in try db.prepareAll(section.text) {
                if statement.parameterCount > 0 {
                    let name = statement.parameterName(at: 1) ?? "?"
                    throw PrepareError(
                        error: SQLiteError(
                            code: .error,
                            message:
                                "'@refresh_batch' takes no parameter ('\(name)'): it reads the batch's keys from "
                                + "\(Self.table)(key)", sql: section.text),
                        offset: offset)
                }
                statements.append(statement)
            }
        } catch {
            throw failure(CompiledJob.line(of: error.offset, in: section), error.error.message)
        }
        self.statements = statements
    }

    /// Fills the keys table with `keys` (each once; canonical integers as integers, as `:key` is
    /// bound), runs the statements, and empties the table again.
    func refresh(keys: [String]) throws(SQLiteError) {
        try create.run()
        try clear.run()
        for key in keys {
            try EventBinder.bindKey(key, insert, 1)
            try insert.run()
        }
        for statement in statements { try statement.run() }
        try clear.run()
    }
}

extension CompiledJob: CompiledJobStatements {
    public var refreshesInBatches: Bool { batch != nil }

    public func refresh(keys: [String]) throws(StoreError) {
        guard let batch else {
            for key in keys { try refresh(key: key) }
            return
        }
        do throws(SQLiteError) {
            try batch.refresh(keys: keys)
        } catch {
            throw error.storeError
        }
    }

    public func refresh(key: String) throws(StoreError) {
        do throws(SQLiteError) {
            try EventBinder.refresh(body, key: key)
        } catch {
            throw error.storeError
        }
    }

    public func apply(_ event: EventLine, key: String) throws(StoreError) {
        do throws(SQLiteError) {
            try EventBinder.apply(body, fields: event.fields, line: event.base, position: event.position, key: key)
        } catch {
            throw error.storeError
        }
    }

    /// Every key the `@keys` query lists.
    public func allKeys() throws(StoreError) -> [String] {
        guard let keys else { return [] }
        do throws(SQLiteError) {
            var result: [String] = []
            while try keys.step() {
                if let key = keys.text(at: 0) { result.append(key) }
            }
            return result
        } catch {
            throw error.storeError
        }
    }
}
