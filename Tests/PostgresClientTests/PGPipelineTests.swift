import PostgresClient
import TestSupport
import Testing

@Suite(.postgresServer) struct PGPipelineTests {
    @Test func aPipelineOfManyStatementsCostsOneRoundTrip() throws {
        let database = try PostgresTestDatabase()
        let connection = try database.connect()
        try connection.execute("CREATE TABLE t (id int PRIMARY KEY, name text)")
        try connection.prepare(name: "insert", sql: "INSERT INTO t VALUES ($1, $2)")
        let before = connection.roundTrips
        let results = try connection.pipeline { p throws(PGError) in
            for id in 0..<500 {
                if id % 2 == 0 {
                    try p.send("INSERT INTO t VALUES ($1, $2)", [String(id), "row \(id)"])
                } else {
                    try p.send(prepared: "insert", [String(id), nil])
                }
            }
            try p.send("SELECT count(*), count(name) FROM t")
        }
        #expect(connection.roundTrips - before == 1)
        #expect(results.count == 501)
        #expect(try results[0].get().commandTag == "INSERT 0 1")
        let counts = try results[500].get()
        #expect(counts.first?.int(0) == 500)
        #expect(counts.first?.int(1) == 250)
        // The same statements one by one: a round trip each.
        let sequential = connection.roundTrips
        for id in 500..<550 { try connection.execute(prepared: "insert", [String(id), nil]) }
        #expect(connection.roundTrips - sequential == 50)
        // The connection is usable normally afterwards.
        #expect(try connection.query("SELECT count(*) FROM t").first?.int(0) == 550)
    }

    @Test func aFailingStatementNamesItsIndexAndTheRestReportAborted() throws {
        let database = try PostgresTestDatabase()
        let connection = try database.connect()
        try connection.execute("CREATE TABLE t (id int PRIMARY KEY)")
        let results = try connection.pipeline { p throws(PGError) in
            try p.send("INSERT INTO t VALUES ($1)", ["1"])
            try p.send("INSERT INTO t VALUES ($1)", ["2"])
            try p.send("INSERT INTO t VALUES ($1)", ["1"])
            try p.send("INSERT INTO t VALUES ($1)", ["3"])
            try p.send("SELECT 1")
        }
        #expect(results.count == 5)
        #expect((try? results[0].get()) != nil)
        #expect((try? results[1].get()) != nil)
        let failure = try #require(throws: PGError.self) { try results[2].get() }
        #expect(failure.statementIndex == 2)
        #expect(failure.sqlState == "23505")
        #expect(failure.kind == .statement)
        #expect("\(failure)".contains("statement 2 of the pipeline"))
        #expect("\(failure)".contains("SQLSTATE 23505"))
        for index in 3..<5 {
            let aborted = try #require(throws: PGError.self) { try results[index].get() }
            #expect(aborted.kind == .pipelineAborted)
            #expect(aborted.statementIndex == index)
            #expect(aborted.failedStatementIndex == 2)
            #expect(aborted.message.contains("statement 2"))
        }
        // Outside an explicit transaction the pipeline was one implicit transaction: all undone.
        #expect(try connection.query("SELECT count(*) FROM t").first?.int(0) == 0)
    }

    @Test func aFailedStatementRollsBackToItsSavepointAndTheTransactionGoesOn() throws {
        let database = try PostgresTestDatabase()
        let connection = try database.connect()
        try connection.execute("CREATE TABLE t (id int PRIMARY KEY)")
        // Given a transaction with a first key's writes and a savepoint before the second key's
        try connection.execute("BEGIN")
        try connection.query("INSERT INTO t VALUES (1)")
        try connection.execute("SAVEPOINT key")
        // When the second key's pipelined statements fail
        let results = try connection.pipeline { p throws(PGError) in
            try p.send("INSERT INTO t VALUES ($1)", ["2"])
            try p.send("INSERT INTO t VALUES ($1)", ["1"])
            try p.send("INSERT INTO t VALUES ($1)", ["3"])
        }
        #expect(results.map { (try? $0.get()) != nil } == [true, false, false])
        let failed = try #require(throws: PGError.self) { try connection.query("SELECT 1") }
        #expect(failed.sqlState == "25P02")
        // Then rolling back to the savepoint keeps the first key's writes, and the transaction goes on
        try connection.execute("ROLLBACK TO SAVEPOINT key")
        let more = try connection.pipeline { p throws(PGError) in
            try p.send("RELEASE SAVEPOINT key")
            try p.send("INSERT INTO t VALUES ($1)", ["4"])
            try p.send("COMMIT")
        }
        #expect(more.allSatisfy { (try? $0.get()) != nil })
        let ids = try connection.query("SELECT id FROM t ORDER BY id").map { $0.int(0) }
        #expect(ids == [1, 4])
    }

    @Test func anEmptyPipelineIsHarmless() throws {
        let database = try PostgresTestDatabase()
        let connection = try database.connect()
        let results = try connection.pipeline { _ throws(PGError) in }
        #expect(results.isEmpty)
        #expect(try connection.query("SELECT 1").first?.int(0) == 1)
    }

    @Test func aThrowingBodyLeavesTheConnectionUsable() throws {
        let database = try PostgresTestDatabase()
        let connection = try database.connect()
        let error = try #require(throws: PGError.self) {
            _ = try connection.pipeline { p throws(PGError) in
                try p.send("SELECT 1")
                throw PGError(kind: .other, message: "the caller gave up")
            }
        }
        #expect(error.message == "the caller gave up")
        #expect(try connection.query("SELECT 2").first?.int(0) == 2)
    }
}

extension PGPipelineTests {
    @Test func aPipelineLargerThanTheSocketBuffersDoesNotDeadlock() throws {
        let database = try PostgresTestDatabase()
        let connection = try database.connect()
        // Megabytes each way: the server's answers fill the socket while statements are still being sent.
        let filler = String(repeating: "x", count: 2_000)
        let results = try connection.pipeline { p throws(PGError) in
            for index in 0..<4_000 { try p.send("SELECT $1::text || $2", [filler, String(index)]) }
        }
        #expect(results.count == 4_000)
        #expect(try results[3_999].get().first?.string(0) == filler + "3999")
        #expect(connection.roundTrips == 1)
    }
}
