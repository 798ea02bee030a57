import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

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

    /// A job written for PostgreSQL is refused on SQLite before its `@setup` runs, naming the file.
    @Test func aJobForAnotherDatabaseIsRefused() throws {
        let w = try Workspace(
            job: """
                -- on: PING key: aggregateId
                -- dialect: postgres
                -- @setup
                CREATE TABLE IF NOT EXISTS counts(key text PRIMARY KEY, n bigint NOT NULL);
                -- @refresh
                DELETE FROM counts WHERE key = :key;
                """)
        try w.append(1)
        for outcome in [try ChildProcess.run(["validate"] + w.flags), try w.run()] {
            #expect(outcome.status == 78)
            #expect(
                outcome.stderr.contains(
                    "count.sql:2: job 'count' is written for PostgreSQL ('-- dialect: postgres'), but the database is SQLite"
                ),
                "\(outcome.stderr)")
        }
        #expect(try w.rows("SELECT name FROM sqlite_master WHERE name = 'counts'").isEmpty)
    }

    /// A `@refresh_batch` that leaves other rows than `@refresh` is a wrong definition: `verify`
    /// lists the rows and exits 78, and does not repair with it.
    @Test func verifyExits78WhenTheBatchFormDisagrees() throws {
        let job = """
            -- on: PING key: aggregateId
            -- @setup
            CREATE TABLE IF NOT EXISTS counts(key TEXT PRIMARY KEY, n INTEGER NOT NULL);
            -- @refresh
            DELETE FROM counts WHERE key = :key;
            INSERT INTO counts SELECT key, n FROM src WHERE key = :key;
            -- @refresh_batch
            DELETE FROM counts WHERE key IN (SELECT key FROM batch_keys);
            INSERT INTO counts SELECT key, n FROM src WHERE key IN (SELECT key FROM batch_keys) AND n > 1;
            -- @keys
            SELECT key FROM src
            """
        let w = try Workspace(job: job)
        try w.execute("CREATE TABLE src(key TEXT PRIMARY KEY, n INTEGER); INSERT INTO src VALUES('k0', 1), ('k1', 2)")
        try w.append(3)
        // A run refreshes the batch's keys with the (wrong) batch form
        #expect(try w.run().status == 0)
        #expect(try w.rows("SELECT key, n FROM counts ORDER BY key") == [["k1", "2"]])
        let verify = try w.projector(["verify", "count", "--repair"])
        #expect(verify.status == 78, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("count: @refresh_batch and @refresh disagree on 2 key(s)"), "\(verify.stdout)")
        #expect(verify.stdout.contains("    @refresh       (k0, 1)"), "\(verify.stdout)")
        #expect(verify.stdout.contains("nothing was repaired"), "\(verify.stdout)")
        #expect(try w.rows("SELECT key, n FROM counts ORDER BY key") == [["k1", "2"]])

        // Fixed, `verify --repair` puts right what the wrong form wrote
        try w.dir.write("jobs/count.sql", job.replacingOccurrences(of: " AND n > 1", with: ""))
        let repaired = try w.projector(["verify", "count", "--repair"])
        #expect(repaired.status == 0, "\(repaired.stdout)\(repaired.stderr)")
        #expect(try w.rows("SELECT key, n FROM counts ORDER BY key") == [["k0", "1"], ["k1", "2"]])
        let fixed = try w.projector(["verify", "count"])
        #expect(fixed.status == 0, "\(fixed.stdout)\(fixed.stderr)")
        #expect(fixed.stdout.contains("count: @refresh_batch and @refresh agree on 2 key(s)"), "\(fixed.stdout)")
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

    /// Re-commenting and re-indenting a job leaves it alone; changing its SQL rebuilds it.
    @Test func rebuildChangedIgnoresCommentsAndLayout() throws {
        let w = try Workspace()
        try w.append(5)
        #expect(try w.run().status == 0)
        try w.dir.write(
            "jobs/count.sql",
            "-- Counts pings per key.\n"
                + Workspace.job.replacingOccurrences(of: "VALUES(:key, 1)", with: "VALUES (:key,1)")
                .replacingOccurrences(of: "n + 1;", with: "n + 1; -- one more"))
        let status = try ChildProcess.run(["status"] + w.flags)
        #expect(status.stdout.contains("unchanged"), "\(status.stdout)")
        let same = try w.run(["--rebuild-changed"])
        #expect(same.status == 0, "\(same.stderr)")
        #expect(!same.stdout.contains("rebuilt"), "\(same.stdout)")

        try w.dir.write("jobs/count.sql", Workspace.job.replacingOccurrences(of: "n = n + 1", with: "n = n + 10"))
        let changed = try w.run(["--rebuild-changed"])
        #expect(changed.status == 0, "\(changed.stderr)")
        #expect(changed.stdout.contains("rebuilt count (definition changed)"), "\(changed.stdout)")
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

/// Paths projector cannot use: the message names the path, says what is wrong and what to do, and
/// the exit code says whose problem it is (SPEC §6). Permission checks run projector as `nobody`
/// when the tests run as root, since root reads and writes through any permission.
@Suite struct UnusablePathTests {
    @Test(
        .enabled(if: ChildProcess.canRunUnprivileged, "needs setpriv and a projector binary that nobody may run"))
    func anUnreadableJobsDirectoryIs66NamingIt() throws {
        let w = try Workspace()
        let jobs = w.dir.file("jobs")
        #expect(chmod(jobs, 0) == 0)
        defer { chmod(jobs, 0o755) }
        for command in ["validate", "run"] {
            let outcome = try ChildProcess.runUnprivileged([command] + w.flags)
            #expect(outcome.status == 66, "\(command): \(outcome.stderr)")
            #expect(
                outcome.stderr.contains("cannot read the jobs directory \(jobs): Permission denied; give the user"),
                "\(command): \(outcome.stderr)")
            #expect(!outcome.stderr.contains("NSCocoaErrorDomain"))
        }
    }

    @Test(
        .enabled(if: ChildProcess.canRunUnprivileged, "needs setpriv and a projector binary that nobody may run"))
    func anUnreadableJobFileIsAJobErrorSayingWhy() throws {
        let w = try Workspace()
        let job = w.dir.file("jobs/count.sql")
        #expect(chmod(job, 0) == 0)
        let outcome = try ChildProcess.runUnprivileged(["validate"] + w.flags)
        #expect(outcome.status == 78, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("\(job):1: cannot read the file: Permission denied"), "\(outcome.stderr)")
    }

    @Test func aJobsDirectoryThatIsAFileIs66() throws {
        let w = try Workspace()
        let outcome = try ChildProcess.run([
            "validate", "--database", w.dir.file("p.db"), "--journal", w.dir.file("journal.jsonl"), "--jobs-dir",
            w.dir.file("journal.jsonl"),
        ])
        #expect(outcome.status == 66)
        #expect(outcome.stderr.contains("cannot read the jobs directory \(w.dir.file("journal.jsonl")): it is a file"))
    }

    @Test(
        .enabled(if: ChildProcess.canRunUnprivileged, "needs setpriv and a projector binary that nobody may run"))
    func anUnwritableDatabaseDirectoryIs78NamingIt() throws {
        // Given a database made by a first run, in a directory its next user cannot write
        let w = try Workspace()
        try w.append(3)
        #expect(try w.run().status == 0)
        #expect(chmod(w.dir.path, 0o555) == 0)
        defer { chmod(w.dir.path, 0o755) }
        // When validate opens it, or run takes its lock
        let validate = try ChildProcess.runUnprivileged(["validate"] + w.flags)
        let run = try ChildProcess.runUnprivileged(["run"] + w.flags)
        // Then both are configuration errors naming the file and the directory
        #expect(validate.status == 78, "\(validate.stderr)")
        #expect(
            validate.stderr.contains(
                "cannot write the database \(w.dir.file("p.db")): its directory \(w.dir.path) is not writable"),
            "\(validate.stderr)")
        #expect(!validate.stderr.contains("readonly database"))
        #expect(run.status == 78, "\(run.stderr)")
        #expect(run.stderr.contains("cannot write the lock file \(w.dir.file("p.db.lock"))"), "\(run.stderr)")
        #expect(run.stderr.contains("needs write access to \(w.dir.path)"), "\(run.stderr)")
    }

    @Test(
        .enabled(if: ChildProcess.canRunUnprivileged, "needs setpriv and a projector binary that nobody may run"))
    func validateBeforeTheFirstRunChecksTheDatabaseDirectoryIsWritable() throws {
        // Given no database yet, in a directory the run's user cannot write
        let w = try Workspace()
        let directory = w.dir.file("state")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        #expect(chmod(directory, 0o555) == 0)
        defer { chmod(directory, 0o755) }
        let flags = [
            "--database", directory + "/read.db", "--journal", w.dir.file("journal.jsonl"), "--jobs-dir",
            w.dir.file("jobs"),
        ]
        // Then validate says what run would hit, instead of "ok"
        let validate = try ChildProcess.runUnprivileged(["validate"] + flags)
        #expect(validate.status == 78, "\(validate.stderr)")
        #expect(validate.stderr.contains("its directory \(directory) is not writable"), "\(validate.stderr)")
        // and a directory that does not exist yet (made by the unit) is fine at install time.
        let later = try ChildProcess.runUnprivileged(
            ["validate"] + flags.map { $0 == directory + "/read.db" ? w.dir.file("new/read.db") : $0 })
        #expect(later.status == 0, "\(later.stderr)")
    }

    @Test func aFileThatIsNotADatabaseIs78NamingIt() throws {
        let w = try Workspace()
        try w.append(3)
        try w.dir.write("p.db", String(repeating: "these are not the pages of a SQLite database\n", count: 100))
        for command in ["validate", "run"] {
            let outcome = try ChildProcess.run([command] + w.flags)
            #expect(outcome.status == 78, "\(command): \(outcome.stderr)")
            #expect(
                outcome.stderr.contains("the database \(w.dir.file("p.db")) is not a SQLite database"),
                "\(command): \(outcome.stderr)")
        }
        let rebuild = try ChildProcess.run(["rebuild", "count"] + w.flags)
        #expect(rebuild.status == 78, "\(rebuild.stderr)")
        #expect(rebuild.stderr.contains("the database \(w.dir.file("p.db")) is not a SQLite database"))
        // Every other command names the file the same way.
        for command in [["status"], ["failures", "list"], ["webhooks", "list"]] {
            let outcome = try ChildProcess.run(command + w.flags)
            #expect(outcome.status == 78, "\(outcome.stderr)")
            #expect(
                outcome.stderr.contains("the database \(w.dir.file("p.db")) is not a SQLite database"),
                "\(outcome.stderr)")
        }
        let attached = try ChildProcess.run([
            "run", "--database", w.dir.file("read.db"), "--journal", w.dir.file("journal.jsonl"), "--jobs-dir",
            w.dir.file("jobs"), "--attach", "app=" + w.dir.file("p.db"),
        ])
        #expect(attached.status == 78, "\(attached.stderr)")
        #expect(
            attached.stderr.contains("the attached database 'app' \(w.dir.file("p.db")) is not a SQLite database"),
            "\(attached.stderr)")
    }
}
