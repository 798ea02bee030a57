import Foundation
import PostgresClient
import PostgresStore
import ProjectorCore
import SQLiteStore

/// Opens the store a command works on, from the options: the SQLite database and its attached
/// databases, with every problem of the installation said in its own words (SPEC §6).
enum StoreOpening {
    enum Purpose {
        /// A run, replay or rebuild: the database's directory must exist.
        case write
        /// A dry run or `validate`: an empty in-memory database stands in when there is none yet
        /// (before a unit's first start has created its state directory), and nothing is written.
        case inspect
    }

    static func open(_ options: RunOptions, for purpose: Purpose) throws(RunError) -> any ProjectionStore {
        if let conninfo = options.postgresConnection {
            return try openPostgres(conninfo, options: options)
        }
        let directory = FileSystem.directory(of: options.databasePath)
        guard FileSystem.exists(directory) || purpose == .inspect else {
            throw .missingPath(what: "the database's directory", path: directory)
        }
        for attachment in options.attachments where !FileSystem.exists(attachment.path) {
            throw .missingPath(what: "the attached database '\(attachment.name)'", path: attachment.path)
        }
        var databaseOptions = Database.Options()
        databaseOptions.busyTimeoutMilliseconds = options.busyTimeoutMilliseconds
        databaseOptions.synchronous = options.synchronous
        let path = purpose == .inspect && !FileSystem.exists(options.databasePath) ? ":memory:" : options.databasePath
        // Even a dry run or a validation writes (in a transaction it rolls back): say so before
        // SQLite reports "attempt to write a readonly database" halfway through.
        if path != ":memory:", let reason = RunError.writeProblem(databasePath: path) {
            throw .notWritable(what: "the database", path: path, reason: reason)
        }
        // Before the first run the database will be created in its directory, which may not exist
        // yet (made by the unit's StateDirectory=), but when it does, the user must be able to write there.
        if purpose == .inspect, path == ":memory:", FileSystem.exists(directory),
            let reason = RunError.writeProblem(databasePath: options.databasePath)
        {
            throw .notWritable(what: "the database", path: options.databasePath, reason: reason)
        }
        do throws(RunnerStore.OpenFailure) {
            return try RunnerStore.open(path: path, options: databaseOptions, attachments: options.attachments)
        } catch {
            if let attachment = error.attachment {
                throw .opening(error.error, what: "the attached database '\(attachment.name)'", path: attachment.path)
            }
            throw .opening(error.error, what: "the database", path: path)
        }
    }

    /// Connects to PostgreSQL (SPEC §10). `--attach` has no meaning there: the write model is in
    /// the same database (its own schema), or reached through the user's search path.
    static func openPostgres(_ conninfo: String, options: RunOptions) throws(RunError) -> any ProjectionStore {
        try checkPostgres(conninfo, options: options)
        let schema = try runnerSchema(options.postgresSchema)
        let connection = try connect(
            conninfo, options: options.eventsTableName == nil ? PGConnection.Options() : sharing(options.runnerName))
        let store: PGStore
        do throws(PGError) {
            if let job = options.postgresRebuildJob {
                store = try PGStore.rebuildScratch(connection: connection, job: job, runnerSchema: schema)
            } else {
                store = try PGStore(connection: connection, schema: schema)
            }
        } catch {
            throw postgresError(error, conninfo: conninfo)
        }
        store.pipelineDepth = options.postgresPipelineDepth
        return store
    }

    /// The runner's schema named `name` (`postgresSchema`), or why it cannot be one.
    static func runnerSchema(_ name: String) throws(RunError) -> PGRunnerSchema {
        if let schema = PGRunnerSchema(name) { return schema }
        throw .configuration("postgresSchema: \(PGRunnerSchema.problem(with: name) ?? "is not a schema name")")
    }

    /// The connection of a runner that shares an events table: TCP keepalives that notice a
    /// vanished peer in about 11 s instead of a minute, and its name in `pg_stat_activity`.
    static func sharing(_ runner: String?) -> PGConnection.Options {
        var options = PGConnection.Options()
        options.applicationName = "projector runner \(runner ?? "\(getpid())")"
        options.keepalivesIdleSeconds = 5
        options.keepalivesIntervalSeconds = 2
        options.keepalivesCount = 3
        return options
    }

    /// A store on a new connection to `conninfo`, which must not carry a password, with the
    /// runner's tables in the schema `schema`.
    static func postgresStore(_ conninfo: String, schema: String) throws(RunError) -> PGStore {
        let runnerSchema = try runnerSchema(schema)
        let connection = try connect(conninfo)
        do throws(PGError) {
            return try PGStore(connection: connection, schema: runnerSchema)
        } catch {
            throw postgresError(error, conninfo: conninfo)
        }
    }

    /// A new connection to `conninfo`, which must not carry a password; a failure to connect in
    /// the operator's words (`postgresError`).
    static func connect(_ conninfo: String, options: PGConnection.Options = PGConnection.Options())
        throws(RunError) -> PGConnection
    {
        try checkPassword(conninfo)
        do throws(PGError) {
            return try PGConnection(conninfo: conninfo, options: options)
        } catch {
            throw postgresError(error, conninfo: conninfo)
        }
    }

    /// What a PostgreSQL connection string must not come with: a password (it would show in the
    /// process list and shell history) or attached databases.
    static func checkPostgres(_ conninfo: String, options: RunOptions) throws(RunError) {
        try checkPassword(conninfo)
        if let attachment = options.attachments.first {
            throw .usage(
                "--attach \(attachment.name)=… has no meaning on PostgreSQL: the jobs reach the write model in the "
                    + "same database (by schema, e.g. app.test_runs), so leave --attach out")
        }
    }

    /// A run, `status` and `validate` on an events table that is not there: a configuration error
    /// (78) naming it, not the SQL error of the first query. Nothing to check on a journal file.
    static func requireEventsTable(_ options: RunOptions, in store: any ProjectionStore) throws(RunError) {
        guard let name = options.eventsTableName, let table = PGEventsTable(name), let store = store as? PGStore
        else { return }
        guard try Session.storeCall({ () throws(StoreError) in try store.exists(table) }) else {
            throw .configuration(
                "the events table \(table) does not exist in this database (or is not on the search path): create it "
                    + "with `projector events init --database … --journal postgres:\(table)`")
        }
    }

    /// A password on the command line would show in the process list and shell history.
    static func checkPassword(_ conninfo: String) throws(RunError) {
        guard PGConnectionString.carriesPassword(conninfo) else { return }
        throw .usage(
            "the database connection string \(PGConnectionString.redacted(conninfo)) carries a password: give it "
                + "through PGPASSWORD or a password file (PGPASSFILE, ~/.pgpass), never on the command line")
    }

    /// A failure to connect, in the operator's words: a wrong password or connection string is a
    /// configuration error (78), a server that cannot be reached a temporary one (75).
    static func postgresError(_ error: PGError, conninfo: String) -> RunError {
        let target = PGConnectionString.redacted(conninfo)
        switch error.kind {
        case .authenticationFailed, .invalidConnectionString:
            return .configuration("cannot connect to the database \(target): \(error.message)")
        default:
            var failure = error.storeError
            failure.message = "\(target): \(error.message)"
            return .from(failure)
        }
    }
}

extension RunOptions {
    /// What is wrong with `name` as the runner's PostgreSQL schema (`postgresSchema`), nil when
    /// nothing is.
    public static func postgresSchemaProblem(_ name: String) -> String? { PGRunnerSchema.problem(with: name) }
}
