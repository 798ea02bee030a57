import Foundation
import SQLiteStore
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Errors that are not configuration problems exit with their own code (SPEC §6), through the binary.
@Suite struct ErrorExitCodeTests {
    @Test func anUnknownJobNamedOnTheCommandLineIsAUsageError64() throws {
        let w = try Workspace()
        try w.append(3)
        #expect(try w.run().status == 0)
        for command in [
            ["run", "--jobs", "nope"], ["rebuild", "nope"], ["verify", "nope", "--sample", "5"],
        ] {
            let outcome = try ChildProcess.run(command + w.flags)
            #expect(outcome.status == 64, "\(command): \(outcome.stderr)")
            #expect(outcome.stderr.contains("unknown job(s) nope; jobs are: count"), "\(command): \(outcome.stderr)")
        }
    }

    @Test func commandsThatCannotDoWhatTheirArgumentsAskAreUsageErrors64() throws {
        let w = try Workspace()
        try w.append(3)
        #expect(try w.run().status == 0)
        // count is an apply job: a sample of keys has no meaning for it.
        let sample = try ChildProcess.run(["verify", "count", "--sample", "5"] + w.flags)
        #expect(sample.status == 64, "\(sample.stderr)")
        #expect(sample.stderr.contains("--sample needs a refresh job with @keys"))
        let prune = try ChildProcess.run(["journal", "prune"] + w.flags)
        #expect(prune.status == 64, "\(prune.stderr)")
        #expect(prune.stderr.contains("is a single file"))
        let schema = try ChildProcess.run(["status", "--postgres-schema", "Read Models"] + w.flags)
        #expect(schema.status == 64, "\(schema.stderr)")
        #expect(schema.stderr.contains("--postgres-schema must be lower-case letters"), "\(schema.stderr)")
    }

    /// SIGINT stops a rebuild after the batch in flight: run it again to resume, as for a busy
    /// lock (75), not a configuration error (78).
    @Test func anInterruptedRebuildIs75AndResumes() throws {
        // Given a job slow enough that the rebuild takes seconds
        let w = try Workspace(job: Workspace.slowJob(countTo: 1000))
        try w.append(10_000)
        let scratch = w.dir.file("p.db.rebuild-count.db")

        // When it is interrupted once its first batch committed
        let child = try ChildProcess(["rebuild", "count"] + w.flags)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let committed =
                (try? Database(path: scratch).rows("SELECT count(*) FROM projector_checkpoints"))?.first?.first?
                .int ?? 0
            if committed > 0 { break }
            usleep(5_000)
        }
        kill(child.pid, SIGINT)
        let outcome = child.wait()

        // Then it says so and exits 75; the next rebuild finishes the work exactly once
        #expect(outcome.status == 75, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("rebuild of count interrupted at position"), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("run it again to resume"))
        let again = try ChildProcess.run(["rebuild", "count"] + w.flags)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Database(path: w.dir.file("p.db")).rows("SELECT sum(n) FROM counts")[0][0].int == 10_000)
    }

    /// A parked key's held event that the journal no longer holds is a journal problem of the run,
    /// naming job, key and position, not a SQL failure of the key.
    @Test func aHeldEventTheJournalLostIsAJournalProblem() throws {
        // Given an apply key parked on a failing event, with a later event held behind it
        let w = try Workspace(job: Workspace.poisonableApplyJob)
        #expect(try w.run().status == 0)
        let database = w.dir.file("p.db")
        try Database(path: database).execute("INSERT INTO poison VALUES('e1')")
        try w.append(10)
        #expect(try w.run().status == 65)
        let held = try Database(path: database).rows(
            "SELECT position, length FROM projector_held_events WHERE key = 'k1' ORDER BY position")
        let position = try #require(held.first?[0].int)
        let length = try #require(held.first?[1].int)

        // When its bytes in the journal are overwritten, the poison is gone and the key is retried
        let journal = try FileHandle(forUpdating: URL(fileURLWithPath: w.dir.file("journal.jsonl")))
        try journal.seek(toOffset: UInt64(position))
        journal.write(Data(repeating: UInt8(ascii: "x"), count: length - 1))
        try journal.close()
        try Database(path: database).execute("DELETE FROM poison")
        #expect(try ChildProcess.run(["failures", "retry", "--job", "count", "--key", "k1"] + w.flags).status == 0)
        let outcome = try w.run()

        // Then the run stops with 65 naming the journal problem, and the key stays parked as it was
        #expect(outcome.status == 65, "\(outcome.stderr)")
        #expect(
            outcome.stderr.contains(
                "job count key k1 is parked with a held event at position \(position), but the bytes there no "
                    + "longer read as an event"), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("Restore the journal from backup"))
        let db = try Database(path: database)
        #expect(try db.rows("SELECT count(*) FROM projector_failures WHERE key = 'k1'")[0][0].int == 1)
        #expect(try db.rows("SELECT count(*) FROM projector_held_events WHERE key = 'k1'")[0][0].int == held.count)
    }

    /// The runs table keeps the code the binary exited with (mapped by the executable), for
    /// `status` and the metrics.
    @Test func statusShowsTheExitCodeOfTheLastRun() throws {
        let w = try Workspace()
        try w.dir.append("journal.jsonl", "{oops\n")
        #expect(try w.run().status == 65)
        let rejected = try ChildProcess.run(["status"] + w.flags)
        #expect(rejected.stdout.contains("failures (exit 65)"), "\(rejected.stdout)")
        try w.append(3)
        #expect(try w.run().status == 0)
        let clean = try ChildProcess.run(["status"] + w.flags)
        #expect(clean.stdout.contains("ok (exit 0)"), "\(clean.stdout)")
    }

    @Test func theDemosRunsRecordTheirExitCodeToo() throws {
        let dir = TemporaryDirectory("projector-demo-exit")
        let jobs = ChildProcess.repositoryRoot() + "/jobs"
        let demo = try ChildProcess.run(["demo", "--dir", dir.path, "--events", "200", "--jobs-dir", jobs])
        #expect(demo.status == 0, "\(demo.stderr)")
        let status = try ChildProcess.run([
            "status", "--jobs-dir", jobs, "--database", dir.file("readmodels.db"), "--journal", dir.file("journal"),
            "--attach", "app=" + dir.file("qahub.db"),
        ])
        #expect(status.stdout.contains("ok (exit 0)"), "\(status.stdout)")
    }
}
