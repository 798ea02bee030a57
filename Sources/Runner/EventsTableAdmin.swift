public import EventsTableWriter
import PostgresClient
public import PostgresStore
import ProjectorCore

/// `projector events`: creates the events table (SPEC §10) and appends to it from a shell.
public enum EventsTableAdmin {
    /// What `initialize` found.
    public enum Outcome: Sendable, Equatable {
        /// The table was not there and now is.
        case created
        /// The table was already there (its indexes are made when they were missing).
        case existed
    }

    /// The columns the runner reads; a table of that name without them is someone else's table.
    static let columns = [
        "seq", "xid", "epoch", "id", "type", "aggregate_type", "aggregate_id", "version", "occurred_at", "data",
        "metadata",
    ]

    /// Creates the events table `--journal postgres:TABLE` names, with its reading index, in the
    /// PostgreSQL database `--database` names. Running it again changes nothing. An unqualified
    /// name resolves as in a run: through the search path without the runner's schema (for a
    /// role named like that schema, `"$user"` would otherwise put the table there).
    public static func initialize(options: RunOptions) throws(RunError) -> (PGEventsTable, Outcome) {
        let (conninfo, table) = try target(options, command: "events init")
        let schema = try StoreOpening.runnerSchema(options.postgresSchema)
        let connection = try StoreOpening.connect(conninfo)
        defer { connection.close() }
        let existed: Bool
        var missing: [String] = []
        do throws(PGError) {
            try PGStore.keepJobsOut(of: schema.name, connection: connection)
            existed = try exists(table, on: connection)
            if existed {
                let names = try connection.query(
                    "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
                    [table.sql])
                let found = Set(names.compactMap { $0.string(0) })
                missing = columns.filter { !found.contains($0) }
            }
            if missing.isEmpty { try connection.execute(table.ddl) }
        } catch {
            throw problem(error, table: table, conninfo: conninfo)
        }
        if !missing.isEmpty {
            throw .configuration(
                "the table \(table) exists but is not an events table: it has no column "
                    + missing.joined(separator: ", ") + "; name another table (--journal postgres:OTHER)")
        }
        return (table, existed ? .existed : .created)
    }

    /// Appends `event` to the events table the options name, in a transaction of its own (a shell
    /// has no write model to commit with it).
    public static func append(_ event: EventsTableWriter.Event, options: RunOptions) throws(RunError) -> PGEventsTable {
        let (conninfo, table) = try target(options, command: "events append")
        guard let writer = EventsTableWriter(table: table.name) else {
            throw .usage("--journal postgres:\(table.name): not a table name")
        }
        let schema = try StoreOpening.runnerSchema(options.postgresSchema)
        let connection = try StoreOpening.connect(conninfo)
        defer { connection.close() }
        do throws(PGError) {
            try PGStore.keepJobsOut(of: schema.name, connection: connection)
            try writer.append(event, on: connection)
        } catch {
            if PGEventsTable.refusesVersion(error), let version = event.version {
                throw .eventRefused(
                    "version \(version) of \(event.aggregateType) \(event.aggregateId) is already in the table \(table); "
                        + "nothing was appended")
            }
            if error.sqlState == "23505", let id = event.id {
                throw .eventRefused("an event with id \(id) is already in the table \(table); nothing was appended")
            }
            if error.sqlState == "22007" || error.sqlState == "22008" {
                throw .eventRefused("occurredAt is not a time PostgreSQL reads: \(error.message)")
            }
            if error.sqlState == "22P02" || error.sqlState == "22P05" {
                throw .eventRefused("the event holds a value PostgreSQL refuses: \(error.message)")
            }
            throw problem(error, table: table, conninfo: conninfo)
        }
        return table
    }

    /// The connection string and the table the options name, or why they name none.
    static func target(_ options: RunOptions, command: String) throws(RunError) -> (String, PGEventsTable) {
        guard let conninfo = options.postgresConnection else {
            throw .usage(
                "\(command) needs a PostgreSQL database (--database postgres://… or dbname=…, env "
                    + "PROJECTOR_DATABASE): the events table lives there, but \(options.databasePath) is an SQLite file"
            )
        }
        try StoreOpening.checkPostgres(conninfo, options: options)
        guard let name = options.eventsTableName else {
            throw .usage(
                "\(command) needs the events table as the journal: --journal \(RunOptions.eventsTablePrefix)TABLE "
                    + "(e.g. \(RunOptions.eventsTablePrefix)events, env PROJECTOR_JOURNAL), not \(options.journalPath)")
        }
        guard let table = PGEventsTable(name) else {
            throw .usage(
                "--journal \(RunOptions.eventsTablePrefix)\(name): '\(name)' is not a table name (TABLE or "
                    + "SCHEMA.TABLE, each of lowercase letters, digits and _, not starting with a digit, at most 63 bytes)"
            )
        }
        return (conninfo, table)
    }

    static func exists(_ table: PGEventsTable, on connection: PGConnection) throws(PGError) -> Bool {
        try connection.query("SELECT to_regclass($1) IS NOT NULL", [table.sql]).first?.bool(0) ?? false
    }

    /// A server's refusal in the operator's words: a missing schema or a missing privilege is the
    /// installation's to fix (78).
    static func problem(_ error: PGError, table: PGEventsTable, conninfo: String) -> RunError {
        switch error.sqlState {
        case "3F000":
            let schema = table.name.split(separator: ".").first.map(String.init) ?? table.name
            return .configuration(
                "the schema of \(table) does not exist: create it first (CREATE SCHEMA \(schema)): \(error.message)")
        case "42P01":
            return .configuration(
                "the table \(table) does not exist: create it first (projector events init): \(error.message)")
        case "42501":
            return .configuration(
                "the database role may not do this on \(table): \(error.message); grant the privilege or use the "
                    + "table owner's role")
        case "23505" where PGEventsTable.refusesVersion(error):
            // An older table that already holds a repeated version: the index cannot be made.
            return .eventRefused(
                "\(table) holds two events with the same version of one aggregate, so the index that refuses a "
                    + "repeated version cannot be made (\(error.detail ?? error.message)); keep one of them or "
                    + "number them again, then run events init again")
        default:
            return StoreOpening.postgresError(error, conninfo: conninfo)
        }
    }
}
