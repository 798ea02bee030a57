import Foundation
import Journal
import Logging
import PostgresClient
import ProjectorCore
import QaHubDemo
import Runner
import SQLiteStore
import TestSupport
import Testing

/// The shipped QaHub jobs for PostgreSQL (`jobs/postgres/`) against those for SQLite (`jobs/`):
/// the same events and the same write model leave the same read-model rows.
@Suite(.postgresServer) struct PostgresQaHubJobsTests {
    static let tables = ["test_runs_view", "bug_budget_view", "project_daily_quality"]

    static var logger: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    /// Every row of `table`, each value as text as PostgreSQL writes it (a whole double without
    /// ".0"), sorted: a multiset to compare.
    static func sqliteRows(_ path: String, _ table: String) throws -> [[String]] {
        let db = try Database(path: path)
        return try db.rows("SELECT * FROM \(table)").map { row in
            row.map { value in
                if case .real(let number) = value, number == number.rounded(), abs(number) < 1e15 {
                    return String(Int64(number))
                }
                return value.description
            }
        }.sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// The rows only one side holds (at most a few of each), empty when both hold the same multiset.
    static func differences(_ rows: [[String]], _ expected: [[String]]) -> [String] {
        var counts: [[String]: Int] = [:]
        for row in rows { counts[row, default: 0] += 1 }
        for row in expected { counts[row, default: 0] -= 1 }
        let extra = counts.filter { $0.value > 0 }.keys.sorted { $0.lexicographicallyPrecedes($1) }
        let missing = counts.filter { $0.value < 0 }.keys.sorted { $0.lexicographicallyPrecedes($1) }
        return extra.prefix(3).map { "only on PostgreSQL: \($0)" } + missing.prefix(3).map { "only on SQLite: \($0)" }
    }

    static func postgresRows(_ connection: PGConnection, _ table: String) throws -> [[String]] {
        try PostgresReadModels.rows(connection, "SELECT * FROM \(table)").dropFirst()
            .sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// The PostgreSQL jobs with their `@refresh_batch` sections taken out, so every key is
    /// refreshed by `@refresh` alone.
    static func jobsWithoutBatchSections(in directory: TemporaryDirectory) throws -> String {
        let source = ChildProcess.repositoryRoot() + "/jobs/postgres"
        let jobs = directory.file("jobs-refresh-only")
        try FileManager.default.createDirectory(atPath: jobs, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: source) where name.hasSuffix(".sql") {
            let text = try String(contentsOfFile: source + "/" + name, encoding: .utf8)
            var kept = text
            if let batch = text.range(of: "-- @refresh_batch"), let keys = text.range(of: "-- @keys") {
                kept = String(text[..<batch.lowerBound]) + String(text[keys.lowerBound...])
            }
            try kept.write(toFile: jobs + "/" + name, atomically: true, encoding: .utf8)
        }
        return jobs
    }

    @Test func thePostgresJobsLeaveTheRowsOfTheSQLiteJobsOnTheDemoWorkload() throws {
        let dir = TemporaryDirectory("projector-pg-qahub")
        let root = ChildProcess.repositoryRoot()
        let journal = dir.file("journal")
        let writeModel = dir.file("qahub.db")
        let simulator = try QaHubSimulator(
            writeModelPath: writeModel, journal: try JournalWriter(path: journal, directory: true), seed: 7)
        try simulator.bootstrap(projects: 8)
        try simulator.simulate(events: 3000)

        var sqlite = RunOptions(
            databasePath: dir.file("readmodels.db"), journalPath: journal, jobsDirectory: root + "/jobs")
        sqlite.attachments = [Attachment(name: "app", path: writeModel)]
        let batched = try PostgresTestDatabase()
        let refreshOnly = try PostgresTestDatabase()
        let postgres = [
            (
                batched,
                RunOptions(databasePath: batched.conninfo, journalPath: journal, jobsDirectory: root + "/jobs/postgres")
            ),
            (
                refreshOnly,
                RunOptions(
                    databasePath: refreshOnly.conninfo, journalPath: journal,
                    jobsDirectory: try Self.jobsWithoutBatchSections(in: dir))
            ),
        ]

        // A backlog (new refresh jobs refresh all their keys), then new events only, as the demo runs.
        for round in 0..<2 {
            if round == 1 { try simulator.simulate(events: 1500) }
            #expect(try ProjectionRun(options: sqlite, logger: Self.logger).execute().failures == 0)
            for (database, options) in postgres {
                let connection = try database.connect()
                try PostgresWriteModel.load(from: writeModel, into: connection)
                let report = try ProjectionRun(options: options, logger: Self.logger).execute()
                #expect(report.failures == 0)
                #expect(report.events > 0)
            }
        }

        for table in Self.tables {
            let expected = try Self.sqliteRows(sqlite.databasePath, table)
            #expect(expected.count > 5, "\(table) holds too few rows to compare")
            for (database, options) in postgres {
                let rows = try Self.postgresRows(database.connect(), table)
                #expect(rows.count == expected.count, "\(table) (\(options.jobsDirectory))")
                #expect(Self.differences(rows, expected) == [], "\(table) (\(options.jobsDirectory))")
            }
        }
    }

    @Test func theWriteModelLoadsIntoTheSchemaAppAndReplacesWhatWasThere() throws {
        let dir = TemporaryDirectory("projector-pg-qahub-load")
        let writeModel = dir.file("qahub.db")
        let simulator = try QaHubSimulator(
            writeModelPath: writeModel, journal: try JournalWriter(path: dir.file("journal"), directory: true))
        try simulator.bootstrap(projects: 3)
        try simulator.simulate(events: 500)
        let database = try PostgresTestDatabase()
        let connection = try database.connect()
        let first = try PostgresWriteModel.load(from: writeModel, into: connection)
        try simulator.simulate(events: 200)
        let second = try PostgresWriteModel.load(from: writeModel, into: connection)
        let source = try Database(path: writeModel)
        for table in PostgresWriteModel.tables {
            let count = try source.rows("SELECT count(*) FROM \(table)")[0][0].int ?? -1
            #expect(second[table] == count, "\(table)")
            #expect(try connection.query("SELECT count(*) FROM app.\(table)").first?.int(0) == count, "\(table)")
            #expect((first[table] ?? 0) <= count)
        }
        // Text with quotes, tabs and backslashes arrives as it was written.
        #expect(
            try connection.query("SELECT count(*) FROM app.test_cases WHERE title LIKE 'checks \"login\" flow #%'")
                .first?.int(0) == (try source.rows("SELECT count(*) FROM test_cases")[0][0].int))
    }
}

/// The shipped jobs' two directories: `jobs/` (SQLite) holds `jobs/postgres/`, and each loads only its own files.
@Suite struct ShippedJobDirectoriesTests {
    @Test func eachDirectoryLoadsTheSameThreeJobsInItsOwnDialect() throws {
        let root = ChildProcess.repositoryRoot()
        let sqlite = try JobLoader.load(directory: root + "/jobs")
        let postgres = try JobLoader.load(directory: root + "/jobs/postgres")
        let names = ["bug_budget_view", "project_daily_quality", "test_runs_view"]
        #expect(sqlite.jobs.map(\.name).sorted() == names)
        #expect(postgres.jobs.map(\.name).sorted() == names)
        #expect(sqlite.jobs.allSatisfy { $0.dialect == .sqlite })
        #expect(postgres.jobs.allSatisfy { $0.dialect == .postgres })
        for name in names {
            let (lite, pg) = (try #require(sqlite[name]), try #require(postgres[name]))
            #expect(lite.mode == pg.mode, "\(name)")
            #expect((lite.batchRefresh == nil) == (pg.batchRefresh == nil), "\(name)")
            #expect(
                lite.subscriptions.map { "\($0.patterns) \($0.key)" }
                    == pg.subscriptions.map { "\($0.patterns) \($0.key)" },
                "\(name)")
        }
    }
}
