import Foundation
import ProjectorCore
import SQLiteStore
import TestSupport
import Testing

/// What `@setup` would create today against what a database holds for the job's tables.
@Suite struct SetupDriftTests {
    static func job(_ setup: String) throws -> JobDefinition {
        try JobFileParser.parse(
            name: "scores", file: "jobs/scores.sql",
            text: """
                -- on: PING key: aggregateId
                -- @setup
                \(setup)
                -- @refresh
                DELETE FROM scores WHERE key = :key;
                """)
    }

    static let table = "CREATE TABLE IF NOT EXISTS scores(key TEXT PRIMARY KEY, n INTEGER);"
    static let trigger = """
        CREATE TRIGGER IF NOT EXISTS scores_no_x BEFORE INSERT ON scores WHEN NEW.key = 'x'
        BEGIN SELECT raise(ABORT, 'no x'); END;
        """

    @Test func aDatabaseMadeByTheSameSetupHasNoFindingsWhateverTheLayout() throws {
        let db = try Database(path: ":memory:")
        try db.executeAll(Self.table + "\n" + Self.trigger)
        let relaidOut = try Self.job(
            Self.table.replacingOccurrences(of: ", ", with: ",\n    ") + "\n"
                + Self.trigger.replacingOccurrences(of: " ", with: "  "))
        #expect(SetupDrift.findings(for: relaidOut, in: db).isEmpty)
    }

    @Test func aTriggerRemovedFromSetupIsNamedWithFileAndLine() throws {
        let db = try Database(path: ":memory:")
        try db.executeAll(Self.table + "\n" + Self.trigger)
        let findings = SetupDrift.findings(for: try Self.job(Self.table), in: db)
        #expect(findings.count == 1)
        let finding = try #require(findings.first)
        #expect(finding.job == "scores")
        #expect(finding.description.hasPrefix("jobs/scores.sql:2: warning: trigger 'scores_no_x' on table 'scores'"))
        #expect(finding.message.contains("projector rebuild scores"))
    }

    @Test func aTableThatDiffersFromSetupIsNamed() throws {
        let db = try Database(path: ":memory:")
        try db.execute("CREATE TABLE scores(key TEXT PRIMARY KEY, n INTEGER CHECK (n < 10))")
        let findings = SetupDrift.findings(for: try Self.job(Self.table), in: db)
        #expect(findings.map(\.message).contains { $0.contains("table 'scores' in the database differs from @setup") })
    }

    @Test func tablesNotCreatedYetOrOtherJobsTablesAreNoFinding() throws {
        let db = try Database(path: ":memory:")
        #expect(SetupDrift.findings(for: try Self.job(Self.table), in: db).isEmpty)
        try db.execute("CREATE TABLE others(x)")
        try db.execute("CREATE TRIGGER others_t BEFORE INSERT ON others BEGIN SELECT 1; END")
        #expect(SetupDrift.findings(for: try Self.job(Self.table), in: db).isEmpty)
    }
}
