import Foundation
import Journal
import QaHubDemo
import SQLiteStore
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `kill -9` at several moments of a run, then a rerun: every read model must equal a full
/// recompute (refresh jobs) and the exact counts of the journal (the apply job).
@Suite struct CrashSafetyTests {
    @Test func killNineAtAnyMomentLosesNothingAndAppliesNothingTwice() throws {
        let dir = TemporaryDirectory("projector-crash")
        let writeModel = dir.file("qahub.db")
        let journalPath = dir.file("journal")
        do {
            let appender = try JournalWriter(path: journalPath, directory: true, segmentBytes: 2 << 20)
            let simulator = try QaHubSimulator(writeModelPath: writeModel, journal: appender, seed: 7)
            try simulator.bootstrap(projects: 8)
            try simulator.simulate(events: 60_000)
        }
        let jobs = ChildProcess.repositoryRoot() + "/jobs"
        func flags(_ database: String) -> [String] {
            [
                "run", "--database", database, "--journal", journalPath, "--jobs-dir", jobs,
                "--attach", "app=\(writeModel)", "--batch-events", "400", "--log-level", "error",
            ]
        }

        // Given a run killed at growing moments until one finishes on its own,
        let database = dir.file("read.db")
        var interrupted = 0
        var delay = 0.05
        var finished = false
        while !finished {
            let child = try ChildProcess(flags(database))
            usleep(useconds_t(delay * 1_000_000))
            child.kill9()
            let outcome = child.wait()
            if outcome.signaled {
                interrupted += 1
            } else {
                #expect(outcome.status == 0, "\(outcome.stderr)")
                finished = true
            }
            delay *= 1.6
            if interrupted > 30 { break }
        }
        #expect(interrupted >= 3, "the journal was processed before the first kill: make it bigger")
        // when a last run completes,
        let last = try ChildProcess.run(flags(database))
        #expect(last.status == 0, "\(last.stderr)")

        // then the refresh read models equal a full recompute from the write model,
        let fresh = dir.file("fresh.db")
        #expect(try ChildProcess.run(flags(fresh)).status == 0)
        let differences = try ReadModelComparison.compare(
            database, fresh, tables: ["test_runs_view", "bug_budget_view"])
        for difference in differences {
            #expect(difference.isEqual, "\(difference)")
            #expect(difference.rowsFirst > 0)
        }
        // and the apply job's counters equal exact counts computed from the journal.
        let expected = try DailyCounts.fromJournal(journalPath)
        let db = try Database(path: database)
        var actual: [String: [Int]] = [:]
        for row in try db.rows(
            "SELECT project_id, day, runs_started, results, passed, failed, skipped, blocked, duration_ms FROM project_daily_quality"
        ) {
            actual["\(row[0].int ?? -1)/\(row[1].string ?? "")"] = row[2...].map { $0.int ?? -1 }
        }
        #expect(actual.count == expected.count)
        #expect(actual == expected)
        #expect(try db.rows("SELECT count(*) FROM projector_failures")[0][0].int == 0)
    }
}

extension CrashSafetyTests {
    /// A job that reads another's table (`after:`), an upstream key that keeps failing, and
    /// `kill -9` at growing moments: once the cause is gone and the failures are retried, both
    /// read models equal a full recompute (the dependent one was never left computed from stale rows).
    @Test func aDependentJobUnderKillNineAndAFailingUpstreamKeyEndsEqualToARecompute() throws {
        let dir = TemporaryDirectory("projector-crash-after")
        let writeModel = dir.file("qahub.db")
        let journalPath = dir.file("journal")
        let appender = try JournalWriter(path: journalPath, directory: true, segmentBytes: 2 << 20)
        let simulator = try QaHubSimulator(writeModelPath: writeModel, journal: appender, seed: 11)
        try simulator.bootstrap(projects: 6)
        try simulator.simulate(events: 2_000)
        let jobs = dir.file("jobs")
        try FileManager.default.createDirectory(atPath: jobs, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: ChildProcess.repositoryRoot() + "/jobs/test_runs_view.sql", toPath: jobs + "/test_runs_view.sql")
        try dir.write(
            "jobs/project_totals.sql",
            """
            -- on: TEST_RUN_CREATED, TEST_RUN_UPDATED, TEST_RUN_DELETED, TEST_RUN_RESULT_*   key: data.projectId
            -- after: test_runs_view
            -- @setup
            CREATE TABLE IF NOT EXISTS project_totals(
                project_id INTEGER PRIMARY KEY, runs INTEGER NOT NULL, results INTEGER NOT NULL,
                passed INTEGER NOT NULL);
            -- @refresh
            DELETE FROM project_totals WHERE project_id = :key;
            INSERT INTO project_totals(project_id, runs, results, passed)
            SELECT project_id, count(*), sum(total_results), sum(passed) FROM test_runs_view
            WHERE project_id = :key GROUP BY project_id;
            """)
        func command(_ database: String, _ arguments: [String] = ["run", "--batch-events", "300"]) -> [String] {
            arguments + [
                "--database", database, "--journal", journalPath, "--jobs-dir", jobs, "--attach", "app=\(writeModel)",
                "--log-level", "error",
            ]
        }
        // Given a database where one test run in seven can no longer be written (a trigger added
        // by hand) while the API goes on,
        let database = dir.file("read.db")
        #expect(try ChildProcess.run(command(database)).status == 0)
        try Database(path: database).execute(
            """
            CREATE TRIGGER broken BEFORE INSERT ON test_runs_view WHEN NEW.id % 7 = 3
            BEGIN SELECT raise(ABORT, 'broken'); END
            """)
        try simulator.simulate(events: 25_000)
        // and runs killed at growing moments until one finishes on its own,
        var interrupted = 0
        var delay = 0.05
        while interrupted <= 30 {
            let child = try ChildProcess(command(database))
            usleep(useconds_t(delay * 1_000_000))
            child.kill9()
            let outcome = child.wait()
            if !outcome.signaled {
                #expect(outcome.status == 65, "\(outcome.stderr)")
                break
            }
            interrupted += 1
            delay *= 1.6
        }
        #expect(interrupted >= 3, "the journal was processed before the first kill: make it bigger")
        let waiting =
            try Database(path: database).rows(
                "SELECT count(*) FROM projector_failures WHERE job = 'project_totals'")[0][0].int ?? 0
        #expect(waiting > 0, "no dependent key waited for a failed upstream key")

        // when the cause is gone, the operator retries and a run completes,
        try Database(path: database).execute("DROP TRIGGER broken")
        #expect(try ChildProcess.run(command(database, ["failures", "retry", "--all"])).status == 0)
        let last = try ChildProcess.run(command(database))
        #expect(last.status == 0, "\(last.stderr)")

        // then both read models equal a full recompute, and nothing is left failing or waiting.
        let fresh = dir.file("fresh.db")
        #expect(try ChildProcess.run(command(fresh)).status == 0)
        for difference in try ReadModelComparison.compare(
            database, fresh, tables: ["test_runs_view", "project_totals"])
        {
            #expect(difference.isEqual, "\(difference)")
            #expect(difference.rowsFirst > 0)
        }
        let db = try Database(path: database)
        #expect(try db.rows("SELECT count(*) FROM projector_failures")[0][0].int == 0)
        #expect(try db.rows("SELECT count(*) FROM projector_failure_waits")[0][0].int == 0)
    }
}

/// The daily quality summary computed independently: Foundation's JSON parser over every line.
enum DailyCounts {
    static func fromJournal(_ path: String) throws -> [String: [Int]] {
        var counts: [String: [Int]] = [:]
        var seen: Set<String> = []
        let journal = try Journal(path: path)
        for segment in journal.segments {
            let text = try String(contentsOfFile: segment.path, encoding: .utf8)
            for line in text.split(separator: "\n") {
                guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    let type = object["type"] as? String,
                    type == "TEST_RUN_CREATED" || type == "TEST_RUN_RESULT_CREATED",
                    let data = object["data"] as? [String: Any], let project = data["projectId"] as? String,
                    let occurredAt = object["occurredAt"] as? String
                else { continue }
                if let id = object["id"] as? String, !seen.insert(id).inserted { continue }
                let key = "\(project)/\(occurredAt.prefix(10))"
                var row = counts[key] ?? [0, 0, 0, 0, 0, 0, 0]
                if type == "TEST_RUN_CREATED" {
                    row[0] += 1
                } else {
                    row[1] += 1
                    switch data["status"] as? String {
                    case "passed": row[2] += 1
                    case "failed": row[3] += 1
                    case "skipped": row[4] += 1
                    case "blocked": row[5] += 1
                    default: break
                    }
                    row[6] += data["durationMs"] as? Int ?? 0
                }
                counts[key] = row
            }
        }
        return counts
    }
}
