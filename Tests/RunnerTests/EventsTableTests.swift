import EventsTableWriter
import Foundation
import PostgresClient
import PostgresStore
import Runner
import TestSupport
import Testing

/// The events table from the API's side: the writer appends inside the API's transaction, and the
/// reader's window never passes a transaction still in flight.
@Suite struct EventsTableTests {
    /// A database with the table `events` made by `projector events init`'s logic.
    static func initialized() throws -> (PostgresTestDatabase, PGEventsTable) {
        let database = try PostgresTestDatabase()
        let options = RunOptions(databasePath: database.conninfo, journalPath: "postgres:events", jobsDirectory: "jobs")
        let (table, outcome) = try EventsTableAdmin.initialize(options: options)
        #expect(outcome == .created)
        #expect(try EventsTableAdmin.initialize(options: options).1 == .existed)
        return (database, table)
    }

    static func event(_ id: String, aggregate: String = "a", version: Int? = nil) throws -> EventsTableWriter.Event {
        try EventsTableWriter.Event(
            id: id, type: "PING", aggregateType: "ping", aggregateId: aggregate, version: version,
            data: #"{"id":"\#(id)"}"#)
    }

    /// The ids of the rows the reader's window returns from the start, in its order.
    static func window(_ table: PGEventsTable, on connection: PGConnection) throws -> [String] {
        let current = try connection.query(table.currentEpoch).first?.string(0) ?? "1"
        let rows = try connection.query(table.window, ["0", "0", "0", current, "100"])
        return try rows.map { row in
            let line = try JSONSerialization.jsonObject(with: Data((row.string(4) ?? "").utf8)) as? [String: Any]
            return line?["id"] as? String ?? "?"
        }
    }

    /// The window once it returns `count` rows: transaction ids are the cluster's, so a transaction
    /// another test holds open in another database holds this reader back for a while too.
    static func settledWindow(_ table: PGEventsTable, on connection: PGConnection, count: Int) throws -> [String] {
        let deadline = ContinuousClock.now + .seconds(20)
        var ids = try window(table, on: connection)
        while ids.count < count, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            ids = try window(table, on: connection)
        }
        return ids
    }

    @Test func theWritersInsertIsTheTablesInsert() throws {
        for name in ["events", "app.events"] {
            let writer = try #require(EventsTableWriter(table: name))
            #expect(writer.insert == PGEventsTable(name)?.insert)
        }
        for name in ["Events", "1events", "a.b.c", "ev-ents", "", "a."] {
            #expect(EventsTableWriter(table: name) == nil, "\(name)")
            #expect(PGEventsTable(name) == nil, "\(name)")
        }
    }

    @Test(.postgresServer) func theEventCommitsWithTheCallersTransactionAndVanishesWithItsRollback() throws {
        let (database, table) = try Self.initialized()
        let writer = try #require(EventsTableWriter(table: table.name))
        let api = try database.connect()
        try api.execute("CREATE TABLE test_runs(id text PRIMARY KEY, status text)")

        // Given the API's transaction that changes its write model and appends the event
        try api.execute("BEGIN")
        try api.execute("INSERT INTO test_runs VALUES ('42', 'running')")
        try writer.append(try Self.event("kept", aggregate: "42", version: 1), on: api)
        // Then nobody else sees the event before the API commits
        let reader = try database.connect()
        #expect(try reader.query("SELECT count(*) FROM events").first?.int(0) == 0)
        try api.execute("COMMIT")
        #expect(
            try reader.query("SELECT id, version FROM events").map { "\($0.string(0) ?? "")@\($0.int(1) ?? 0)" } == [
                "kept@1"
            ])

        // When the API's transaction rolls back, its event goes with the write model's change
        try api.execute("BEGIN")
        try api.execute("UPDATE test_runs SET status = 'passed' WHERE id = '42'")
        try writer.append(try Self.event("dropped", aggregate: "42", version: 2), on: api)
        try api.execute("ROLLBACK")
        #expect(try reader.query("SELECT id FROM events ORDER BY seq").compactMap { $0.string(0) } == ["kept"])
        #expect(try reader.query("SELECT status FROM test_runs").first?.string(0) == "running")
        #expect(try Self.settledWindow(table, on: reader, count: 1) == ["kept"])
    }

    @Test(.postgresServer) func initPutsAnUnqualifiedTableWhereARunLooksNotInTheRunnersSchema() throws {
        // Given a role named like the runner's schema, which a run has created ("$user" leads the
        // default search path)
        let database = try PostgresTestDatabase()
        let connection = try database.connect()
        #expect(try connection.query("SELECT current_user").first?.string(0) == "projector")
        try connection.execute("CREATE SCHEMA projector")
        let options = RunOptions(databasePath: database.conninfo, journalPath: "postgres:events", jobsDirectory: "jobs")
        _ = try EventsTableAdmin.initialize(options: options)
        // Then the table is in public, where a run (which leaves its schema out of the path) reads it
        #expect(try connection.query("SELECT to_regclass('public.events') IS NOT NULL").first?.bool(0) == true)
        #expect(try connection.query("SELECT to_regclass('projector.events') IS NULL").first?.bool(0) == true)
        _ = try EventsTableAdmin.append(try Self.event("e-1"), options: options)
        #expect(try connection.query("SELECT count(*) FROM public.events").first?.int(0) == 1)
    }

    @Test(.postgresServer) func aDuplicateIdAbortsTheCallersTransaction() throws {
        let (database, table) = try Self.initialized()
        let writer = try #require(EventsTableWriter(table: table.name))
        let api = try database.connect()
        try writer.append(try Self.event("e-1"), on: api)
        try api.execute("BEGIN")
        #expect(throws: PGError.self) { try writer.append(try Self.event("e-1"), on: api) }
        try api.execute("ROLLBACK")
        #expect(try api.query("SELECT count(*) FROM events").first?.int(0) == 1)
    }

    @Test(.postgresServer) func aSecondEventWithAnAggregatesVersionIsRefused() throws {
        let (database, table) = try Self.initialized()
        let writer = try #require(EventsTableWriter(table: table.name))
        let api = try database.connect()
        func event(_ id: String, _ aggregate: String, _ version: Int) throws -> EventsTableWriter.Event {
            try EventsTableWriter.Event(
                id: id, type: "Deposited", aggregateType: "account", aggregateId: aggregate, version: version)
        }
        try writer.append(try event("e-1", "a-1", 1), on: api)
        try writer.append(try event("e-2", "a-2", 1), on: api)  // another aggregate's version 1
        // Two API transactions both appending version 2 of a-1: the second cannot commit it.
        try writer.append(try event("e-3", "a-1", 2), on: api)
        let refused = #expect(throws: PGError.self) { try writer.append(try event("e-4", "a-1", 2), on: api) }
        #expect(refused.map(PGEventsTable.refusesVersion) == true)
        #expect(try api.query("SELECT count(*) FROM events").first?.int(0) == 3)
        // From a shell: refused, naming the aggregate and the version, nothing appended.
        let options = RunOptions(databasePath: database.conninfo, journalPath: "postgres:events", jobsDirectory: "jobs")
        let shell = #expect(throws: RunError.self) {
            try EventsTableAdmin.append(try event("e-5", "a-1", 1), options: options)
        }
        #expect("\(shell.map { "\($0)" } ?? "")".contains("version 1 of account a-1 is already in the table"))
        #expect(try api.query("SELECT count(*) FROM events").first?.int(0) == 3)
    }

    @Test(.postgresServer) func anOlderTableHoldingAVersionTwiceIsNamedNotAnSQLError() throws {
        let (database, _) = try Self.initialized()
        let connection = try database.connect()
        // A table made before the version index, where two events took version 1 of one aggregate.
        try connection.execute(
            """
            DROP INDEX events_aggregate_version;
            INSERT INTO events(id, type, aggregate_type, aggregate_id, version)
            VALUES ('x', 'Deposited', 'account', 'a-1', 1), ('y', 'Deposited', 'account', 'a-1', 1)
            """)
        let options = RunOptions(databasePath: database.conninfo, journalPath: "postgres:events", jobsDirectory: "jobs")
        let refused = #expect(throws: RunError.self) { try EventsTableAdmin.initialize(options: options) }
        guard case .eventRefused(let message)? = refused else {
            Issue.record("expected a refused event (65), got \(String(describing: refused))")
            return
        }
        #expect(message.contains("two events with the same version of one aggregate"), "\(message)")
        #expect(message.contains("(account, a-1, 1)"), "\(message)")
    }

    @Test(.postgresServer) func theWindowWaitsForATransactionStillOpenAndThenReturnsItsRowFirst() throws {
        let (database, table) = try Self.initialized()
        let writer = try #require(EventsTableWriter(table: table.name))
        let t1 = try database.connect()
        let t2 = try database.connect()
        let reader = try database.connect()

        // Given T1 open with its row inserted (the lower seq and the lower xid)
        try t1.execute("BEGIN")
        try writer.append(try Self.event("t1"), on: t1)
        // and T2, begun later, inserted and committed
        try t2.execute("BEGIN")
        try writer.append(try Self.event("t2"), on: t2)
        try t2.execute("COMMIT")

        // Then T2's row is visible to a plain SELECT, but the window returns nothing of it while
        // T1 is open: a reader that took T2's row would have passed T1's for good
        #expect(try reader.query("SELECT id FROM events").compactMap { $0.string(0) } == ["t2"])
        #expect(try Self.window(table, on: reader) == [])

        // When T1 commits, the window returns both, T1's first
        try t1.execute("COMMIT")
        #expect(try Self.settledWindow(table, on: reader, count: 2) == ["t1", "t2"])
    }

    @Test(.postgresServer) func theWindowOrdersByTransactionNotByInsertion() throws {
        let (database, table) = try Self.initialized()
        let writer = try #require(EventsTableWriter(table: table.name))
        let t1 = try database.connect()
        let t2 = try database.connect()
        let reader = try database.connect()

        // Given T1 that has its xid before T2 but inserts after T2 has committed (so a higher seq)
        try t1.execute("BEGIN")
        _ = try t1.query("SELECT pg_current_xact_id()")
        try t2.execute("BEGIN")
        try writer.append(try Self.event("t2"), on: t2)
        try t2.execute("COMMIT")
        try writer.append(try Self.event("t1"), on: t1)
        #expect(try Self.window(table, on: reader) == [])
        try t1.execute("COMMIT")
        // Then the window follows the xid: T1's row first
        #expect(try Self.settledWindow(table, on: reader, count: 2) == ["t1", "t2"])
    }

    @Test func anEventIsCheckedWhenItIsMade() {
        func problem(type: String = "T", version: Int? = nil, data: String? = nil, metadata: String? = nil) -> String? {
            do throws(EventsTableWriter.InvalidEvent) {
                _ = try EventsTableWriter.Event(
                    type: type, aggregateType: "a", aggregateId: "1", version: version, data: data, metadata: metadata)
                return nil
            } catch {
                return error.field
            }
        }
        #expect(problem(type: "") == "type")
        #expect(problem(version: 0) == "version")
        #expect(problem(data: "[]") == "data")
        #expect(problem(data: #"{"a":1"#) == "data")
        #expect(problem(data: #"{"a":"\u0000"}"#) == "data")
        #expect(problem(metadata: "1") == "metadata")
        #expect(problem(version: 1, data: #"{"a":[1]}"#, metadata: "{}") == nil)
    }
}
