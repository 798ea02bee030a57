import Foundation
import PostgresClient
import ProjectorCore
import TestSupport
import Testing

@Suite(.postgresServer) struct PGConnectionTests {
    @Test func connectsAsProjector() throws {
        let database = try PostgresTestDatabase()
        let connection = try database.connect()
        let row = try #require(
            try connection.query(
                "SELECT current_user, current_database(), current_setting('application_name'), pg_backend_pid()"
            )
            .first)
        #expect(row.string(0) == "projector")
        #expect(row.string(1) == database.name)
        #expect(row.string(2) == "projector")
        #expect(row.int(3) == Int(connection.backendPID))
        #expect(connection.backendPID > 0)
        connection.close()
        #expect(!connection.isConnected)
        #expect(throws: PGError.self) { try connection.query("SELECT 1") }
    }

    @Test func aURLConnects() throws {
        let database = try PostgresTestDatabase()
        let port = try PostgresTestServer.settings()["PGPORT", default: ""]
        let connection = try PGConnection(conninfo: "postgres://projector@127.0.0.1:\(port)/\(database.name)")
        #expect(try connection.query("SELECT current_database()").first?.string(0) == database.name)
    }

    @Test func aWrongPasswordFailsWithoutShowingIt() throws {
        let conninfo = "dbname=projector password=wrong-s3cr3t-pw"
        let error = try #require(throws: PGError.self) { try PGConnection(conninfo: conninfo) }
        #expect(error.kind == .authenticationFailed)
        #expect(error.message.contains("password authentication failed"))
        #expect(!"\(error)".contains("wrong-s3cr3t-pw"))
        #expect(!error.storeError.description.contains("wrong-s3cr3t-pw"))
    }

    @Test func anUnreachableServerFailsClearlyWithoutShowingThePassword() throws {
        let closed = try ClosedPort()
        let conninfo = "postgres://projector:s3cr3t-pw@127.0.0.1:\(closed.port)/projector"
        let error = try #require(throws: PGError.self) { try PGConnection(conninfo: conninfo) }
        #expect(error.kind == .connectionRefused)
        #expect(error.message.contains("127.0.0.1"))
        #expect(error.message.contains("\(closed.port)"))
        #expect(!"\(error)".contains("s3cr3t-pw"))
    }

    @Test func parametersRoundTrip() throws {
        let database = try PostgresTestDatabase()
        let connection = try database.connect()
        try connection.execute(
            """
            CREATE TABLE t (id bigint PRIMARY KEY, name text, doc jsonb, ratio double precision, ok boolean, raw bytea);
            """)
        let name = "tab\there, new\nline, quote ' \" backslash \\ and ünïcødé 🚀"
        try connection.query(
            "INSERT INTO t VALUES ($1, $2, $3::jsonb, $4, $5, $6)",
            ["9223372036854775807", name, #"{"a": [1, 2], "b": null}"#, "0.25", "true", "\\x00ff10"])
        try connection.query("INSERT INTO t (id) VALUES ($1)", ["-9223372036854775808"])
        let rows = try connection.query(
            "SELECT id, name, doc->'a'->>1, ratio, ok, raw, doc FROM t ORDER BY id DESC")
        #expect(rows.count == 2)
        #expect(rows.columnCount == 7)
        #expect(rows.columnName(1) == "name")
        #expect(rows[0].int(0) == Int.max)
        #expect(rows[0].string(1) == name)
        #expect(rows[0].string("name") == name)
        #expect(rows[0].int(2) == 2)
        #expect(rows[0].double(3) == 0.25)
        #expect(rows[0].bool(4) == true)
        #expect(rows[0].bytes(5) == [0x00, 0xff, 0x10])
        #expect(rows[0].string(6) == #"{"a": [1, 2], "b": null}"#)
        #expect(rows[1].int(0) == Int.min)
        #expect(rows[1].isNull(1))
        #expect(rows[1].string(1) == nil)
        #expect(rows[1].int(3) == nil)
        #expect(rows[1].bytes(5) == nil)
        // NULL parameters.
        let null = try connection.query("SELECT $1::text IS NULL, $2::text", [nil, "x"])
        #expect(null.first?.bool(0) == true)
        #expect(null.first?.string(1) == "x")
        let update = try connection.query("UPDATE t SET ok = false WHERE id > $1", ["0"])
        #expect(update.affectedRows == 1)
        #expect(update.commandTag == "UPDATE 1")
    }

    @Test func preparedStatementsRunManyTimes() throws {
        let database = try PostgresTestDatabase()
        let connection = try database.connect()
        try connection.execute("CREATE TABLE counts (key text PRIMARY KEY, n bigint NOT NULL)")
        try connection.prepare(
            name: "bump",
            sql: "INSERT INTO counts VALUES ($1, 1) ON CONFLICT (key) DO UPDATE SET n = counts.n + 1 RETURNING n")
        for _ in 0..<3 { try connection.execute(prepared: "bump", ["a"]) }
        let last = try connection.execute(prepared: "bump", ["a"])
        #expect(last.first?.int(0) == 4)
        try connection.execute(prepared: "bump", ["b"])
        #expect(try connection.query("SELECT sum(n) FROM counts").first?.int(0) == 5)
        // A prepared statement's error names its SQL.
        try connection.prepare(name: "divide", sql: "SELECT 1 / $1::int")
        let error = try #require(throws: PGError.self) { try connection.execute(prepared: "divide", ["0"]) }
        #expect(error.sqlState == "22012")
        #expect(error.kind == .statement)
        #expect("\(error)".contains("SELECT 1 / $1::int"))
    }

    @Test func aStatementsOwnErrorCarriesTheServersFields() throws {
        let database = try PostgresTestDatabase()
        let connection = try database.connect()
        try connection.execute("CREATE TABLE t (id int PRIMARY KEY)")
        try connection.query("INSERT INTO t VALUES ($1)", ["1"])
        let duplicate = try #require(throws: PGError.self) {
            try connection.query("INSERT INTO t VALUES ($1)", ["1"])
        }
        #expect(duplicate.sqlState == "23505")
        #expect(duplicate.kind == .statement)
        #expect(duplicate.storeError.isKeyLocal)
        #expect(duplicate.message.contains("duplicate key value violates unique constraint"))
        #expect(duplicate.detail == "Key (id)=(1) already exists.")
        let syntax = try #require(throws: PGError.self) { try connection.query("SELEC 1") }
        #expect(syntax.sqlState == "42601")
        #expect(syntax.position == 1)
        #expect(connection.isConnected)
    }

    @Test func aStatementTimeoutClassifiesAsSuch() throws {
        let database = try PostgresTestDatabase()
        let connection = try database.connect()
        try connection.execute("SET statement_timeout = '100ms'")
        let error = try #require(throws: PGError.self) { try connection.query("SELECT pg_sleep(5)") }
        #expect(error.sqlState == "57014")
        #expect(error.kind == .statementTimeout)
        #expect(error.storeError.kind == .statement)
        #expect(try connection.query("SELECT 1").first?.int(0) == 1)
    }

    @Test func aLockNotAvailableClassifiesAsSuch() throws {
        let database = try PostgresTestDatabase()
        let holder = try database.connect()
        let waiter = try database.connect()
        try holder.execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
        try holder.execute("BEGIN; SELECT * FROM t WHERE id = 1 FOR UPDATE")
        let error = try #require(throws: PGError.self) {
            try waiter.query("SELECT * FROM t WHERE id = 1 FOR UPDATE NOWAIT")
        }
        #expect(error.sqlState == "55P03")
        #expect(error.kind == .lockNotAvailable)
        try holder.execute("ROLLBACK")
    }

    @Test func aTerminatedBackendIsAConnectionLost() throws {
        let database = try PostgresTestDatabase()
        let connection = try database.connect()
        #expect(try connection.query("SELECT 1").first?.int(0) == 1)
        try PostgresTestServer.terminate(backend: connection.backendPID)
        let error = try #require(throws: PGError.self) { try connection.query("SELECT 1") }
        #expect(error.kind == .connectionLost)
        #expect(error.storeError.kind == .unavailable)
        #expect(!connection.isConnected)
        // Later calls fail the same way, promptly.
        let again = try #require(throws: PGError.self) { try connection.query("SELECT 1") }
        #expect(again.kind == .connectionLost)
        let pipelined = try #require(throws: PGError.self) {
            _ = try connection.pipeline { p throws(PGError) in try p.send("SELECT 1") }
        }
        #expect(pipelined.kind == .connectionLost)
    }
}

@Suite(.postgresServer) struct PGServerRestartTests {
    @Test func aServerCrashIsAConnectionLostAndANewConnectionWorks() throws {
        // Given a server of this test's own (restarting the shared one would break other tests)
        let cluster = try PostgresTestCluster()
        let connection = try PGConnection(conninfo: cluster.conninfo)
        try connection.execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
        // When it restarts without a shutdown checkpoint, as after a crash
        try cluster.restart(mode: "immediate")
        // Then the old connection reports a lost connection, and a new one sees the committed row
        let error = try #require(throws: PGError.self) { try connection.query("SELECT 1") }
        #expect(error.kind == .connectionLost)
        let again = try PGConnection(conninfo: cluster.conninfo)
        #expect(try again.query("SELECT count(*) FROM t").first?.int(0) == 1)
    }
}
