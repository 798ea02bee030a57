public import PostgresClient
public import ProjectorCore

/// The PostgreSQL implementation of the runner's store (`ProjectionStore`, SPEC §10): the
/// runner's own tables in a schema of their own (`projector` unless configured), next to the
/// jobs' read models in the same database, all through one connection. Every write happens inside
/// the caller's transaction. libpq's errors become `StoreError`s at this boundary.
public final class PGStore: ProjectionStore {
    public let connection: PGConnection
    /// The schema of the runner's tables, quoted (a rebuild's state schema for a rebuild's store).
    let schema: String
    /// The runner's schema of the installation: where a live run keeps its tables, and what the
    /// scratch schemas and advisory locks are named after.
    public let runnerSchema: PGRunnerSchema
    /// Statements prepared on the connection, by their SQL.
    var prepared: [String: String] = [:]
    /// How many job statements have been prepared on the connection (each gets a name of its own).
    var jobStatements = 0
    /// The statements a pipelined savepoint has collected and not sent yet (nil outside one).
    var queue: [Queued]?
    /// Whether the pipelined savepoint's `SAVEPOINT` has gone to the server.
    var queueOpened = false

    /// A statement waiting in a pipelined savepoint: prepared (by name) or plain SQL.
    enum Queued {
        case prepared(String, [String?])
        case sql(String, [String?])
    }

    /// How many statements a pipelined savepoint sends at most in one round trip (bounding what
    /// waits in memory; an apply job's 20,000-event batch is 20 round trips, not 20,000). 1 sends
    /// every statement on its own.
    public var pipelineDepth = 1000

    /// Whether due notifications are claimed before delivery (several runners share the outbox):
    /// each claim lasts `claimSeconds`, and a row claimed by another connection is skipped.
    public var claimsDeliveries = false
    public var claimSeconds = 60.0

    /// Round trips to the server so far, on the store's connection.
    public var roundTrips: Int? { connection.roundTrips }

    public static let schemaVersion = 1

    public var dialect: SQLDialect { .postgres }

    /// A store on `connection` with the runner's tables in `schema`; sets the connection's search
    /// path (`keepJobsOut`).
    public convenience init(connection: PGConnection, schema: PGRunnerSchema = .standard) throws(PGError) {
        try self.init(connection: connection, tablesIn: schema.name, runnerSchema: schema)
        try Self.keepJobsOut(of: schema.name, connection: connection)
    }

    /// A store on `connection` with the runner's tables in `tablesIn`, of the installation whose
    /// schema is `runnerSchema` (a rebuild's state schema, say); leaves the search path alone.
    init(connection: PGConnection, tablesIn: String, runnerSchema: PGRunnerSchema) throws(PGError) {
        self.connection = connection
        self.schema = Self.quote(tablesIn)
        self.runnerSchema = runnerSchema
    }

    /// Takes the runner's schema out of the session's search path, so that a job's unqualified
    /// names (its tables, the write model's) resolve as they would without projector. The default
    /// search path starts with `"$user"`: for a role named like the runner's schema (`projector`),
    /// that schema, once created, would otherwise receive every table a job's `@setup` creates.
    package static func keepJobsOut(of schema: String, connection: PGConnection) throws(PGError) {
        guard let row = try connection.query("SELECT current_user, current_setting('search_path')").first,
            let user = row.string(0), let path = row.string(1)
        else { return }
        let entries = path.split(separator: ",").map { String($0.trimmingSpaces) }
        let kept = entries.filter { entry in
            let name = entry.hasPrefix("\"") && entry.count > 1 ? String(entry.dropFirst().dropLast()) : entry
            return name != schema && !(name == "$user" && user == schema)
        }
        guard kept.count != entries.count else { return }
        let value = kept.isEmpty ? "public" : kept.joined(separator: ", ")
        try connection.query("SELECT set_config('search_path', $1, false)", [value])
    }

    /// The runner's table `name`, schema-qualified.
    func table(_ name: String) -> String { "\(schema).\(name)" }

    // MARK: Running SQL

    /// Runs a statement with text parameters, prepared once on this connection and reused.
    @discardableResult
    func run(_ sql: String, _ parameters: [String?] = []) throws(StoreError) -> PGResult {
        try flushQueue()
        return try pg { () throws(PGError) in
            if let name = prepared[sql] { return try connection.execute(prepared: name, parameters) }
            let name = "projector_\(prepared.count + 1)"
            try connection.prepare(name: name, sql: sql)
            prepared[sql] = name
            return try connection.execute(prepared: name, parameters)
        }
    }

    /// A name for a job's statement not used before on this connection.
    func newStatementName(for label: String) -> String {
        jobStatements += 1
        return "projector_job_\(jobStatements)_\(label)"
    }

    /// Runs statements without parameters (DDL, transaction control).
    func execute(_ sql: String) throws(StoreError) {
        try flushQueue()
        try pg { () throws(PGError) in try connection.execute(sql) }
    }

    /// Runs a job's statement now, or queues it inside a pipelined savepoint.
    func send(_ statement: Queued) throws(StoreError) {
        if queue != nil {
            queue?.append(statement)
            if (queue?.count ?? 0) >= pipelineDepth { try flushQueue() }
            return
        }
        try pg { () throws(PGError) in
            switch statement {
            case .prepared(let name, let parameters): try connection.execute(prepared: name, parameters)
            case .sql(let sql, let parameters): try connection.query(sql, parameters)
            }
        }
    }

    /// Sends what a pipelined savepoint collected, in one round trip (its `SAVEPOINT` first when it
    /// has not gone yet); the first statement that failed is the savepoint's failure.
    func flushQueue(closing: Bool = false) throws(StoreError) {
        guard var entries = queue else { return }
        if !queueOpened { entries.insert(.sql("SAVEPOINT projector_key", []), at: 0) }
        if closing { entries.append(.sql("RELEASE SAVEPOINT projector_key", [])) }
        guard !entries.isEmpty else { return }
        queue = []
        queueOpened = true
        let results = try pg { () throws(PGError) in
            try connection.pipeline { (pipeline) throws(PGError) in
                for entry in entries {
                    switch entry {
                    case .prepared(let name, let parameters): try pipeline.send(prepared: name, parameters)
                    case .sql(let sql, let parameters): try pipeline.send(sql, parameters)
                    }
                }
            }
        }
        for result in results {
            if case .failure(let error) = result, error.kind != .pipelineAborted { throw error.storeError }
        }
    }

    /// Runs libpq calls, reporting their failure as the store's.
    @inline(__always) @discardableResult
    func pg<T>(_ body: () throws(PGError) -> T) throws(StoreError) -> T {
        do throws(PGError) {
            return try body()
        } catch {
            throw error.storeError
        }
    }

    // MARK: Transactions

    public func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try execute("BEGIN")
        do throws(StoreError) {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }

    public func savepoint<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try execute("SAVEPOINT projector_key")
        do throws(StoreError) {
            let value = try body()
            try execute("RELEASE SAVEPOINT projector_key")
            return value
        } catch {
            try rollBackSavepoint(after: error)
            throw error
        }
    }

    /// Rolls back to the savepoint after `error`. When that fails too (the connection is gone),
    /// the batch cannot go on: the failure that says why is thrown, never as the key's own.
    func rollBackSavepoint(after error: StoreError) throws(StoreError) {
        guard error.kind != .unavailable else { throw error }
        try execute("ROLLBACK TO SAVEPOINT projector_key; RELEASE SAVEPOINT projector_key")
    }

    /// Collects the job statements `body` runs and sends them in pipelines (`pipelineDepth` at a
    /// time), between a `SAVEPOINT` and its `RELEASE`: an optimistic batch of a job's keys costs a
    /// few round trips instead of one per statement. A failing statement fails the whole savepoint
    /// (rolled back), which the runner then redoes key by key in plain savepoints.
    public func pipelinedSavepoint<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        guard queue == nil, pipelineDepth > 1 else { return try savepoint(body) }
        queue = []
        queueOpened = false
        do throws(StoreError) {
            let value = try body()
            try flushQueue(closing: true)
            queue = nil
            return value
        } catch {
            let opened = queueOpened
            queue = nil
            if opened { try rollBackSavepoint(after: error) }
            throw error
        }
    }

    public func rolledBack<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try execute("BEGIN")
        defer { try? connection.execute("ROLLBACK") }
        return try body()
    }

    // MARK: Jobs

    public func setUp(_ job: JobDefinition) throws(JobFileErrors) {
        guard let setup = job.setup else { return }
        for statement in PostgresText.statements(setup.text) {
            do throws(PGError) {
                try connection.execute("SAVEPOINT projector_setup")
                try connection.execute(statement.sql)
                try connection.execute("RELEASE SAVEPOINT projector_setup")
            } catch {
                try? connection.execute("ROLLBACK TO SAVEPOINT projector_setup")
                throw JobFileErrors([
                    JobFileError(
                        file: job.file, line: setup.line + statement.line, message: "@setup: \(error.message)")
                ])
            }
        }
    }

    public func compile(_ job: JobDefinition) throws(JobFileErrors) -> any CompiledJobStatements {
        try PGCompiledJob(job, store: self)
    }

    public func clearTables(of job: JobDefinition) throws(StoreError) {
        for table in PGCompiledJob.tablesCreated(by: job) {
            try execute("DELETE FROM \(table)")
        }
    }

    public func setupDrift(of job: JobDefinition) -> [SetupDriftFinding] { [] }

    /// On PostgreSQL the scratch store is the rebuild's schemas in this database (`rebuildSwap`).
    public func swapIn(
        job: String, scratchPath: String, also: (Int) throws(StoreError) -> Void
    ) throws(StoreError) -> ReadModelSwap {
        try rebuildSwap(job: job, also: also)
    }

    /// `name` as a quoted SQL identifier.
    public static func quote(_ name: String) -> String { SQLText.quotedIdentifier(name) }

}

extension Double {
    /// The value as a text parameter.
    var parameter: String { "\(self)" }
}

extension Int {
    var parameter: String { "\(self)" }
}
