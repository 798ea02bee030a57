import Foundation
import ProjectorCore
import SQLiteStore
import TestSupport
import Testing

/// Connections, statements, transactions and savepoints on real SQLite files.
@Suite struct DatabaseTests {
    let dir = TemporaryDirectory("projector-sqlite")

    func open() throws -> Database {
        let db = try Database(path: dir.file("t.db"))
        try db.execute("CREATE TABLE IF NOT EXISTS t(k TEXT PRIMARY KEY, n INTEGER NOT NULL)")
        return db
    }

    func keys(_ db: Database) throws -> [String] {
        try db.rows("SELECT k FROM t ORDER BY k").compactMap { $0[0].string }
    }

    @Test func aTransactionCommitsWhatItsBodyDidAndReturnsItsValue() throws {
        let db = try open()
        let value = try db.transaction { () throws(SQLiteError) in
            try db.run("INSERT INTO t VALUES(?, ?)", [.text("a"), .integer(1)])
            return db.lastInsertRowID
        }
        #expect(value == 1)
        #expect(!db.isInTransaction)
        #expect(try keys(Database(path: dir.file("t.db"))) == ["a"], "another connection sees the commit")
    }

    @Test func aTransactionWhoseBodyThrowsIsRolledBackWhole() throws {
        let db = try open()
        try db.run("INSERT INTO t VALUES('a', 1)")
        do throws(SQLiteError) {
            try db.transaction { () throws(SQLiteError) in
                try db.run("INSERT INTO t VALUES('b', 2)")
                try db.run("INSERT INTO t VALUES('a', 3)")
            }
            Issue.record("a duplicate key was accepted")
        } catch {
            #expect(error.code == .constraint, "\(error)")
            #expect(error.extendedCode == .constraintPrimaryKey, "\(error)")
        }
        #expect(!db.isInTransaction)
        #expect(try keys(db) == ["a"])
    }

    /// A key's savepoint that fails takes back its own writes only: what the transaction did
    /// before and after it commits.
    @Test func aFailingSavepointRollsBackAloneInsideItsTransaction() throws {
        let db = try open()
        try db.transaction { () throws(SQLiteError) in
            try db.run("INSERT INTO t VALUES('before', 1)")
            try db.savepoint { () throws(SQLiteError) in try db.run("INSERT INTO t VALUES('kept', 1)") }
            #expect(throws: SQLiteError.self) {
                try db.savepoint { () throws(SQLiteError) in
                    try db.run("INSERT INTO t VALUES('undone', 1)")
                    try db.run("INSERT INTO t VALUES('undone-too', NULL)")
                }
            }
            #expect(db.isInTransaction, "the savepoint's failure ended the transaction")
            try db.run("INSERT INTO t VALUES('after', 1)")
        }
        #expect(try keys(db) == ["after", "before", "kept"])
    }

    @Test func nestedSavepointsUndoOnlyTheInnerOne() throws {
        let db = try open()
        try db.transaction { () throws(SQLiteError) in
            try db.savepoint("outer") { () throws(SQLiteError) in
                try db.run("INSERT INTO t VALUES('outer', 1)")
                #expect(throws: SQLiteError.self) {
                    try db.savepoint("inner") { () throws(SQLiteError) in
                        try db.run("INSERT INTO t VALUES('inner', 1)")
                        try db.execute("INSERT INTO nowhere VALUES(1)")
                    }
                }
            }
        }
        #expect(try keys(db) == ["outer"])
    }

    @Test func aWriterBlockedByAnotherIsBusyAfterItsTimeout() throws {
        let holder = try open()
        try holder.execute("BEGIN IMMEDIATE")
        defer { try? holder.execute("ROLLBACK") }
        var options = Database.Options()
        options.busyTimeoutMilliseconds = 50
        let waiter = try Database(path: dir.file("t.db"), options: options)
        do throws(SQLiteError) {
            try waiter.transaction { () throws(SQLiteError) in try waiter.run("INSERT INTO t VALUES('x', 1)") }
            Issue.record("wrote while another connection held the write lock")
        } catch {
            #expect(error.isBusy, "\(error)")
            #expect(error.code == .busy, "\(error)")
        }
        #expect(!waiter.isInTransaction)
    }

    @Test func anErrorNamesTheStatementAndSQLitesMessage() throws {
        let db = try open()
        do throws(SQLiteError) {
            try db.execute("INSERT INTO nowhere VALUES(1)")
            Issue.record("a missing table was accepted")
        } catch {
            #expect(error.code == .error, "\(error)")
            #expect(error.message.contains("no such table: nowhere"))
            #expect(error.sql == "INSERT INTO nowhere VALUES(1)")
            #expect(error.description.contains("no such table: nowhere"))
        }
    }

    @Test func aScriptThatFailsSaysWhereTheFailingStatementStarts() throws {
        let db = try open()
        let script = "CREATE TABLE a(x);\n  INSERT INTO nowhere VALUES(1);\nCREATE TABLE b(x);"
        do {
            try db.executeAll(script)
            Issue.record("the script ran")
        } catch {
            let start = script.utf8.distance(
                from: script.utf8.startIndex, to: try #require(script.range(of: "INSERT")).lowerBound)
            #expect(error.offset == start)
            #expect(error.error.message.contains("nowhere"))
        }
        #expect(try db.rows("SELECT name FROM sqlite_master WHERE name IN ('a', 'b')").map { $0[0].string } == ["a"])
    }

    @Test func everyKindOfValueBindsAndReadsBack() throws {
        let db = try open()
        let values: [SQLValue] = [.null, .integer(-42), .real(1.5), .text("ü→😀"), .blob([0, 1, 255])]
        #expect(try db.rows("SELECT ?, ?, ?, ?, ?", values) == [values])
        let statement = try db.prepare("SELECT :key, @other, $third")
        #expect(statement.parameterCount == 3)
        #expect((1...3).map { statement.parameterName(at: $0) } == [":key", "@other", "$third"])
        #expect(statement.isReadOnly)
        #expect(try !db.prepare("DELETE FROM t").isReadOnly)
    }
}

@Suite struct JobParameterTests {
    /// Each parameter has a slot of its own in a statement's indices, within their count.
    @Test func everyParameterHasItsOwnSlot() {
        let slots = JobParameter.allCases.map(\.ordinal)
        #expect(Set(slots).count == JobParameter.allCases.count)
        #expect(slots.allSatisfy { (0..<JobParameter.allCases.count).contains($0) })
    }
}
