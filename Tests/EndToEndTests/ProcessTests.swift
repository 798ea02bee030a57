import Foundation
import Journal
import SQLiteStore
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct ExitCodeTests {
    @Test func caughtUpIsZero() throws {
        let w = try Workspace()
        try w.append(10)
        let outcome = try w.run()
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("10 events"))
        #expect(outcome.stdout.contains("caught up"))
    }

    @Test func rejectedLinesAre65() throws {
        let w = try Workspace()
        try w.dir.append("journal.jsonl", "{oops\n")
        let outcome = try w.run()
        #expect(outcome.status == 65)
        #expect(outcome.stderr.contains(#""position":"0""#))  // JSON log lines when not on a terminal
    }

    @Test func aMissingJournalIs66() throws {
        let w = try Workspace()
        let outcome = try ChildProcess.run([
            "run", "--database", w.dir.file("p.db"), "--journal", w.dir.file("none"), "--jobs-dir", w.dir.file("jobs"),
        ])
        #expect(outcome.status == 66)
        #expect(outcome.stderr.contains("journal does not exist: \(w.dir.file("none"))"))
    }

    @Test func aMissingDatabaseDirectoryIs66() throws {
        let w = try Workspace()
        let outcome = try ChildProcess.run([
            "run", "--database", w.dir.file("nodir/p.db"), "--journal", w.dir.file("journal.jsonl"), "--jobs-dir",
            w.dir.file("jobs"),
        ])
        #expect(outcome.status == 66)
    }

    @Test func aBrokenJobIs78WithFileAndLine() throws {
        let w = try Workspace(job: "-- on: PING\n-- @apply\nINSERT INTO nowhere VALUES(:key);\n")
        let outcome = try w.run()
        #expect(outcome.status == 78)
        #expect(outcome.stderr.contains("count.sql:3: no such table: nowhere"))
        let validate = try ChildProcess.run(["validate"] + w.flags)
        #expect(validate.status == 78)
        #expect(validate.stderr.contains("count.sql:3:"))
    }

    @Test(arguments: [["--max-events", "0"], ["--bogus"], ["--batch-events", "x"]])
    func aBadCommandLineIs64(extra: [String]) throws {
        let w = try Workspace()
        #expect(try w.run(extra).status == 64)
    }

    @Test func aRewrittenJournalIs65() throws {
        let w = try Workspace()
        try w.append(5)
        #expect(try w.run().status == 0)
        try w.dir.write("journal.jsonl", "")
        let outcome = try w.run()
        #expect(outcome.status == 65)
        #expect(outcome.stderr.contains("job count at position"))
    }

    @Test func statusAndValidateWork() throws {
        let w = try Workspace()
        try w.append(3)
        _ = try w.run()
        try w.append(2, start: 3)
        let status = try ChildProcess.run(["status", "--json"] + w.flags)
        #expect(status.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        let jobs = json?["jobs"] as? [[String: Any]]
        #expect(jobs?.first?["lagEvents"] as? Int == 2)
        let validate = try ChildProcess.run(["validate"] + w.flags)
        #expect(validate.status == 0)
        #expect(validate.stdout.contains("ok: 1 job(s)"))
    }
}

@Suite struct LockTests {
    /// One real run holds the lock (it waits on a database the test keeps locked); a second one exits 75.
    @Test func aSecondRunExits75WhileTheFirstHoldsTheLock() throws {
        let w = try Workspace()
        try w.append(20)
        let blocker = try Database(path: w.dir.file("p.db"))
        try blocker.execute("BEGIN IMMEDIATE")
        let first = try ChildProcess(["run", "--wait", "--busy-timeout", "20000"] + w.flags)
        // Wait until the first run holds the lock: a non-blocking probe fails then.
        let deadline = Date().addingTimeInterval(20)
        var held = false
        while Date() < deadline {
            let fd = open(w.dir.file("p.db.lock"), O_RDWR)
            if fd >= 0 {
                let got = flock(fd, LOCK_EX | LOCK_NB) == 0
                if got { flock(fd, LOCK_UN) }
                close(fd)
                if !got {
                    held = true
                    break
                }
            }
            usleep(20_000)
        }
        #expect(held)
        let second = try w.run()
        #expect(second.status == 75)
        #expect(second.stderr.contains("is held by PID \(first.pid)"), "\(second.stderr)")
        try blocker.execute("COMMIT")
        let done = first.wait()
        #expect(done.status == 0, "\(done.stderr)")
    }

    @Test func aBusyDatabaseIs75() throws {
        let w = try Workspace()
        try w.append(5)
        #expect(try w.run().status == 0)
        try w.append(5, start: 5)
        let blocker = try Database(path: w.dir.file("p.db"))
        try blocker.execute("BEGIN IMMEDIATE")
        let outcome = try w.run(["--busy-timeout", "200"])
        try blocker.execute("ROLLBACK")
        #expect(outcome.status == 75)
        #expect(outcome.stderr.contains("database is busy"))
        #expect(try w.run().status == 0)
    }
}

@Suite struct ReadersBesideAWriterTests {
    @Test func webhooksListReadsWhileAnotherConnectionHoldsTheWriteLock() throws {
        // Given a database a run has used, and a writer holding its write lock
        let w = try Workspace()
        try w.append(5)
        #expect(try w.run().status == 0)
        let blocker = try Database(path: w.dir.file("p.db"))
        try blocker.execute("BEGIN IMMEDIATE")
        defer { try? blocker.execute("ROLLBACK") }

        // When the operator lists the outbox, it reads without waiting for the writer
        let list = try w.projector(["webhooks", "list", "--busy-timeout", "200"])
        #expect(list.status == 0, "\(list.stderr)")
    }

    @Test func webhooksListOnADatabaseWithoutAnOutboxListsNothing() throws {
        let w = try Workspace()
        try Database(path: w.dir.file("p.db")).execute("CREATE TABLE unrelated(x)")
        let list = try w.projector(["webhooks", "list", "--json"])
        #expect(list.status == 0, "\(list.stderr)")
        let listed = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [Any]
        #expect(listed?.isEmpty == true, "\(list.stdout)")
    }

    @Test func keyFailureLogLinesCarryTheRunID() throws {
        // Given an apply key whose event fails
        let w = try Workspace(job: Workspace.poisonableApplyJob)
        #expect(try w.run().status == 0)
        try w.execute("INSERT INTO poison VALUES('e1')")
        try w.append(3)

        // When a run records the failure, its log lines name the run like every other line
        let run = try w.run(["--log-format", "json"])
        #expect(run.status == 65)
        let failed = run.stderr.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.filter { $0["msg"] as? String == "key failed" }
        #expect(failed.count == 1)
        #expect(failed.allSatisfy { $0["run_id"] != nil }, "\(run.stderr)")
    }
}
