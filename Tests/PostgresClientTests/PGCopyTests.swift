import PostgresClient
import TestSupport
import Testing

@Suite(.postgresServer) struct PGCopyTests {
    @Test func copyInsertsRows() throws {
        let database = try PostgresTestDatabase()
        let connection = try database.connect()
        try connection.execute("CREATE TABLE t (id bigint PRIMARY KEY, name text, doc jsonb)")
        let awkward = "tab\t newline\n return\r backslash \\ \\N ünïcødé"
        let copied = try connection.copyIn("COPY t (id, name, doc) FROM STDIN") { writer throws(PGError) in
            try writer.row(["0", awkward, #"{"k": "v\tw"}"#])
            try writer.row(["1", nil, nil])
            for id in 2..<20_000 { try writer.row([String(id), "name \(id)", #"{"n": \#(id)}"#]) }
        }
        #expect(copied == 20_000)
        let first = try connection.query("SELECT name, doc->>'k' FROM t WHERE id = 0").first
        #expect(first?.string(0) == awkward)
        #expect(first?.string(1) == "v\tw")
        #expect(try connection.query("SELECT name IS NULL, doc IS NULL FROM t WHERE id = 1").first?.bool(0) == true)
        #expect(
            try connection.query("SELECT sum((doc->>'n')::bigint) FROM t").first?.int(0) == (2..<20_000).reduce(0, +))
    }

    @Test func aFailingCopyInsertsNothingAndSaysWhy() throws {
        let database = try PostgresTestDatabase()
        let connection = try database.connect()
        try connection.execute("CREATE TABLE t (id int PRIMARY KEY)")
        let error = try #require(throws: PGError.self) {
            try connection.copyIn("COPY t FROM STDIN") { writer throws(PGError) in
                try writer.row(["1"])
                try writer.row(["1"])
            }
        }
        #expect(error.sqlState == "23505")
        #expect(error.kind == .statement)
        #expect(try connection.query("SELECT count(*) FROM t").first?.int(0) == 0)
        // A body that throws cancels the COPY.
        let cancelled = try #require(throws: PGError.self) {
            try connection.copyIn("COPY t FROM STDIN") { writer throws(PGError) in
                try writer.row(["5"])
                throw PGError(kind: .other, message: "no more rows")
            }
        }
        #expect(cancelled.message == "no more rows")
        #expect(try connection.query("SELECT count(*) FROM t").first?.int(0) == 0)
    }

    @Test func aCopyOutsideCopyInFailsAndLeavesTheConnectionUsable() throws {
        let database = try PostgresTestDatabase()
        let connection = try database.connect()
        try connection.execute("CREATE TABLE t (id int)")
        let error = try #require(throws: PGError.self) { try connection.query("COPY t FROM STDIN") }
        #expect(error.message.contains("copyIn"))
        #expect(try connection.query("SELECT count(*) FROM t").first?.int(0) == 0)
    }
}
