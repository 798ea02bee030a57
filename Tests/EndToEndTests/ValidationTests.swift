import Foundation
import TestSupport
import Testing

/// Job definitions that look fine but would damage a read model are refused by both `validate`
/// and `run`, with `file:line` and exit 78.
@Suite struct JobDefinitionTests {
    /// A refresh that never uses `:key` rewrites the whole table for every key.
    @Test func aRefreshWithoutKeyIsRefusedUnlessDeclaredWhole() throws {
        let body = """
            -- on: PING key: aggregateId
            -- @setup
            CREATE TABLE IF NOT EXISTS totals(n INTEGER NOT NULL);
            -- @refresh
            -- Recount (mentions :key only here).
            DELETE FROM totals;
            INSERT INTO totals SELECT 1;
            """
        let w = try Workspace(job: body)
        try w.append(3)
        let validate = try ChildProcess.run(["validate"] + w.flags)
        #expect(validate.status == 78)
        #expect(validate.stderr.contains("count.sql:4: '@refresh' never uses :key"), "\(validate.stderr)")
        let run = try w.run()
        #expect(run.status == 78)
        #expect(run.stderr.contains("count.sql:4: '@refresh' never uses :key"), "\(run.stderr)")

        // Declared: the job means it.
        try w.dir.write("jobs/count.sql", "-- refresh: whole\n" + body)
        #expect(try ChildProcess.run(["validate"] + w.flags).status == 0)
        let declared = try w.run()
        #expect(declared.status == 0, "\(declared.stderr)")
    }

    @Test func twoJobsCreatingOneTableAreExit78NamingBoth() throws {
        let w = try Workspace()
        try w.dir.write(
            "jobs/recount.sql",
            """
            -- on: PING
            -- @setup
            CREATE TABLE IF NOT EXISTS counts(key TEXT PRIMARY KEY, n INTEGER NOT NULL);
            -- @refresh
            INSERT OR REPLACE INTO counts VALUES(:key, 0);
            """)
        try w.append(3)
        for command in ["validate", "run"] {
            let outcome = try ChildProcess.run([command] + w.flags)
            #expect(outcome.status == 78, "\(command): \(outcome.stderr)")
            #expect(
                outcome.stderr.contains(
                    "recount.sql:3: table 'counts' is also created by \(w.dir.file("jobs/count.sql")):3 (job 'count')"),
                "\(command): \(outcome.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: w.dir.file("p.db")))
    }

    /// The shipped QaHub jobs still pass `validate` against the demo's write model.
    @Test func theShippedJobsValidate() throws {
        let dir = TemporaryDirectory("projector-shipped")
        let jobs = ChildProcess.repositoryRoot() + "/jobs"
        let demo = try ChildProcess.run(["demo", "--dir", dir.path, "--events", "200", "--jobs-dir", jobs])
        #expect(demo.status == 0, "\(demo.stderr)")
        let outcome = try ChildProcess.run([
            "validate", "--jobs-dir", jobs, "--database", dir.file("readmodels.db"), "--journal", dir.file("journal"),
            "--attach", "app=" + dir.file("qahub.db"),
        ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("ok: 3 job(s)"))
    }
}
