import PostgresClient
import PostgresStore
import ProjectorCore
import SQLiteStore

/// Opens the store an operator command works on (status, failures, webhooks, metrics, prune,
/// verify): the database alone, without the jobs' attached databases (on PostgreSQL, a connection
/// of its own). A run opens its own through `StoreOpening`.
enum Stores {
    /// The database at `path` (on PostgreSQL, with the runner's tables in `schema`); `readOnly`
    /// for the commands that only look (SQLite).
    static func open(
        path: String, schema: String, readOnly: Bool = false,
        busyTimeoutMilliseconds: Int32 = Database.Options().busyTimeoutMilliseconds
    ) throws(RunError) -> any OperatorStore {
        if let conninfo = RunOptions.postgresConnection(path) {
            return try StoreOpening.postgresStore(conninfo, schema: schema)
        }
        var databaseOptions = Database.Options()
        databaseOptions.readOnly = readOnly
        databaseOptions.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        do throws(RunnerStore.OpenFailure) {
            return try RunnerStore.open(path: path, options: databaseOptions)
        } catch {
            throw .from(error.error)
        }
    }

    /// Whether the runner's tables exist in the database at `path`: the SQLite file exists, or a
    /// run has created the runner's schema in the PostgreSQL database.
    static func hasRunnerTables(_ path: String, schema: String) throws(RunError) -> Bool {
        guard let conninfo = RunOptions.postgresConnection(path) else { return FileSystem.exists(path) }
        let store = try StoreOpening.postgresStore(conninfo, schema: schema)
        do throws(StoreError) {
            return try store.hasRunnerTables()
        } catch {
            throw .from(error)
        }
    }

    /// The database at `path`, with the runner's tables created when missing.
    static func administered(path: String, schema: String) throws(RunError) -> any OperatorStore {
        let store = try open(path: path, schema: schema)
        do throws(StoreError) {
            // On PostgreSQL, `CREATE INDEX IF NOT EXISTS` waits for a run's open batch (and holds
            // up its next writes): a command beside a run creates nothing that is there already.
            if let postgres = store as? PGStore, try postgres.hasRunnerTables() { return store }
            try store.transaction { () throws(StoreError) in try store.createSchema() }
        } catch {
            throw .from(error)
        }
        return store
    }

    /// A scratch store for `verify --sample`: `job`'s tables empty, the live database and the
    /// options' attached databases readable beside them (on PostgreSQL, a scratch schema in a
    /// transaction of its own connection, never committed).
    static func keyRecomputation(_ job: JobDefinition, options: RunOptions) throws(RunError) -> any KeyRecomputation {
        if let conninfo = options.postgresConnection {
            let schema = try StoreOpening.runnerSchema(options.postgresSchema)
            try Rebuild.checkScratchName(job.name, schema: schema)
            let connection = try StoreOpening.connect(conninfo)
            do throws(JobFileErrors) {
                return try PGSampleScratch(job, connection: connection, runnerSchema: schema)
            } catch {
                throw .jobs(error)
            }
        }
        let db: Database
        do throws(StoreError) {
            db = try SampleScratch.open(
                livePath: options.databasePath,
                attachments: options.attachments.map {
                    Attachment(name: $0.name, path: $0.path, readOnly: true)
                })
        } catch {
            throw .from(error)
        }
        do throws(JobFileErrors) {
            return try SampleScratch(job, in: db)
        } catch {
            throw .jobs(error)
        }
    }
}

/// A rebuild builds a job's read model in a scratch store of its own, then swaps it in. On
/// SQLite the scratch store is a database file beside the live one, which it reads attached.
extension Stores {
    /// The fingerprint of `job`'s checkpoint in the scratch store at `path` (nil: none yet).
    static func scratchFingerprint(at path: String, job: String) throws(StoreError) -> String? {
        try RunnerStore.scratchFingerprint(at: path, job: job)
    }

    /// Reads the live store once, so that a file that is not a database is told apart.
    static func checkReadable(_ path: String) throws(StoreError) {
        try RunnerStore.checkReadable(path)
    }

    /// The name under which a scratch build reads the live store.
    static var liveAttachmentName: String { RunnerStore.liveSchema }
}

/// What an executable sets up before anything else runs.
public enum RunnerProcess {
    /// The store's process-wide settings (SQLite's, made before its first use and while no other
    /// thread uses it): call first thing in `main`.
    public static func configure() {
        Database.configureProcess()
    }
}
