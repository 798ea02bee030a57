public import ProjectorCore

/// The SQLite implementation of the runner's store (`ProjectionStore`): the runner's own tables
/// (`projector_*`: checkpoints, runs, failures, held events, rejects, the event ids seen, the
/// webhook outbox) next to the jobs' read models in one database file. Every write here happens
/// inside the caller's transaction. SQLite's errors become `StoreError`s at this boundary.
public final class RunnerStore: OperatorStore {
    public let db: Database
    var cache: [String: Statement] = [:]

    public static let schemaVersion = 1

    public init(db: Database) {
        self.db = db
    }

    public var dialect: SQLDialect { .sqlite }

    public var roundTrips: Int? { nil }

    /// Creates the tables on first use; idempotent.
    public func createSchema() throws(StoreError) {
        try sqlite { () throws(SQLiteError) in
            try createRunnerTables()
            try createOutboxSchema()
        }
    }

    /// A statement prepared once and reused for the whole run.
    func cached(_ sql: String) throws(SQLiteError) -> Statement {
        if let statement = cache[sql] { return statement }
        let statement = try db.prepare(sql)
        cache[sql] = statement
        return statement
    }

    /// Runs SQLite calls, reporting their failure as the store's.
    @inline(__always)
    func sqlite<T>(_ body: () throws(SQLiteError) -> T) throws(StoreError) -> T {
        do throws(SQLiteError) {
            return try body()
        } catch {
            throw error.storeError
        }
    }

    // MARK: Transactions

    public func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try sqlite { () throws(SQLiteError) in try db.execute("BEGIN IMMEDIATE") }
        do throws(StoreError) {
            let value = try body()
            try sqlite { () throws(SQLiteError) in try db.execute("COMMIT") }
            return value
        } catch {
            if db.isInTransaction { try? db.execute("ROLLBACK") }
            throw error
        }
    }

    public func savepoint<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try sqlite { () throws(SQLiteError) in try db.execute("SAVEPOINT projector_key") }
        do throws(StoreError) {
            let value = try body()
            try sqlite { () throws(SQLiteError) in try db.execute("RELEASE projector_key") }
            return value
        } catch {
            try sqlite { () throws(SQLiteError) in try db.execute("ROLLBACK TO projector_key; RELEASE projector_key") }
            throw error
        }
    }

    public func pipelinedSavepoint<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try savepoint(body)
    }

    public func rolledBack<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try sqlite { () throws(SQLiteError) in try db.execute("BEGIN IMMEDIATE") }
        defer { if db.isInTransaction { try? db.execute("ROLLBACK") } }
        return try body()
    }

    // MARK: Jobs

    public func setUp(_ job: JobDefinition) throws(JobFileErrors) {
        try CompiledJob.setup(job, db: db)
    }

    public func compile(_ job: JobDefinition) throws(JobFileErrors) -> any CompiledJobStatements {
        try CompiledJob(job, db: db)
    }

    public func clearTables(of job: JobDefinition) throws(StoreError) {
        try sqlite { () throws(SQLiteError) in
            for table in CompiledJob.tablesCreated(by: job) {
                try db.execute("DELETE FROM main.\(Self.quote(table))")
            }
        }
    }

    public func setupDrift(of job: JobDefinition) -> [SetupDriftFinding] {
        SetupDrift.findings(for: job, in: db)
    }

    /// `name` as a quoted SQL identifier.
    public static func quote(_ name: String) -> String { SQLText.quotedIdentifier(name) }
}
