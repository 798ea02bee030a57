import Foundation
import Logging
import ProjectorCore
import Runner
import SQLiteStore
import TestSupport
import Testing

/// `validate` prepares `@refresh_batch`; `verify` proves it leaves the rows `@refresh` leaves.
@Suite struct RefreshFormsTests {
    static func job(batch: String) -> String {
        """
        -- on: PING key: aggregateId
        -- @setup
        CREATE TABLE IF NOT EXISTS totals(key TEXT PRIMARY KEY, v INTEGER NOT NULL);
        -- @refresh
        DELETE FROM totals WHERE key = :key;
        INSERT INTO totals(key, v) SELECT key, sum(v) FROM src WHERE key = :key GROUP BY key;
        -- @refresh_batch
        \(batch)
        -- @keys
        SELECT DISTINCT key FROM src ORDER BY key
        """
    }

    static let agreeing = """
        DELETE FROM totals WHERE key IN (SELECT key FROM batch_keys);
        INSERT INTO totals(key, v) SELECT key, sum(v) FROM src WHERE key IN (SELECT key FROM batch_keys) GROUP BY key;
        """

    static var logger: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    static func fixture(batch: String) throws -> Fixture {
        let f = try Fixture(jobs: ["totals": job(batch: batch)])
        try f.execute("CREATE TABLE src(key TEXT NOT NULL, v INTEGER NOT NULL)")
        try f.execute("INSERT INTO src VALUES('a', 1), ('a', 2), ('b', 5), ('c', 7), ('d', 1), ('e', 0)")
        try f.append(f.ping("a"), f.ping("b"), f.ping("c"), f.ping("d"), f.ping("e"))
        #expect(try f.run().outcome.isClean)
        return f
    }

    func verify(_ f: Fixture, sample: Int? = nil, repair: Bool = false) throws -> Verify.Report {
        try Verify(options: f.options, logger: Self.logger, clock: f.clock).execute(
            job: "totals", sample: sample, repair: repair)
    }

    @Test func verifySaysBothFormsAgree() throws {
        let f = try Self.fixture(batch: Self.agreeing)
        let whole = try verify(f)
        #expect(whole.refreshForms?.agree == true)
        #expect(whole.refreshForms?.checkedKeys == 5)
        #expect(whole.refreshForms?.batchSize == 3)
        #expect(!whole.drifted)
        let sampled = try verify(f, sample: 2)
        #expect(sampled.refreshForms?.agree == true)
        #expect(sampled.refreshForms?.checkedKeys == 2)
    }

    /// A batch form that sums differently, and one that empties the whole table before inserting its
    /// keys' rows (right for one batch of every key, wrong for any smaller batch).
    @Test(arguments: [
        (
            """
            DELETE FROM totals WHERE key IN (SELECT key FROM batch_keys);
            INSERT INTO totals(key, v) SELECT key, max(v) FROM src WHERE key IN (SELECT key FROM batch_keys) GROUP BY key;
            """,
            ["(a, 3)"], ["(a, 2)"]
        ),
        (
            """
            DELETE FROM totals;
            INSERT INTO totals(key, v) SELECT key, sum(v) FROM src WHERE key IN (SELECT key FROM batch_keys) GROUP BY key;
            """,
            ["(a, 3)", "(b, 5)", "(c, 7)"], []
        ),
    ])
    func verifyReportsABatchFormThatLeavesOtherRows(batch: String, perKeyOnly: [String], batchOnly: [String]) throws {
        let f = try Self.fixture(batch: Self.agreeing)
        // The live rows are right; then the batch section is changed (which asks for no rebuild).
        try f.dir.write("jobs/totals.sql", Self.job(batch: batch))
        try f.execute("UPDATE totals SET v = 99 WHERE key = 'e'")

        let report = try verify(f, repair: true)
        let forms = try #require(report.refreshForms)
        #expect(!forms.agree)
        #expect(forms.checkedKeys == 5)
        #expect(forms.tables.map(\.table) == ["totals"])
        #expect(forms.tables.first?.missingOrDifferent == perKeyOnly)
        #expect(forms.tables.first?.unexpected == batchOnly)
        // The drift of the live rows is still reported, but nothing is repaired.
        #expect(report.drifted)
        #expect(!report.repaired)
        #expect(try f.rows("SELECT v FROM totals WHERE key = 'e'") == [["99"]])

        let sampled = try verify(f, sample: 5)
        #expect(sampled.refreshForms?.agree == false)
    }

    @Test func validateReportsAMistakeInTheSectionOnItsLine() throws {
        let f = try Fixture(jobs: [
            "totals": Self.job(
                batch: """
                    DELETE FROM totals WHERE key IN (SELECT key FROM batch_keys);
                    INSERT INTO totals(key, value) SELECT key, 1 FROM batch_keys;
                    """)
        ])
        try f.execute("CREATE TABLE src(key TEXT NOT NULL, v INTEGER NOT NULL)")
        #expect {
            try ProjectionRun(options: f.options, logger: Self.logger).validate()
        } throws: { error in
            (error as? RunError)?.description
                == "\(f.dir.file("jobs/totals.sql")):9: table totals has no column named value"
        }
    }
}
