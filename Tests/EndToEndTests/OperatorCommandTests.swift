import Foundation
import Journal
import SQLiteStore
import TestSupport
import Testing
import Webhooks

#if canImport(Glibc)
    import Glibc
#endif

/// What the operator's commands say and exit with when something is off.
@Suite struct OperatorCommandTests {
    /// Every command that reads what runs wrote.
    static let readingCommands = [
        ["status"], ["status", "--json"], ["failures", "list"], ["failures", "retry", "--all"],
        ["failures", "discard", "--all-dead"], ["webhooks", "list"], ["webhooks", "retry", "--all-dead"],
        ["webhooks", "retry", "--all-dead", "--deliver"], ["verify", "count"],
        ["replay", "count", "--aggregate", "k1"],
        ["journal", "prune"],
    ]

    @Test func aMissingDatabaseOrDirectoryIs66ForEveryCommandThatReadsOne() throws {
        let w = try Workspace()
        try w.append(3)
        let flags = ["--journal", w.dir.file("journal.jsonl"), "--jobs-dir", w.dir.file("jobs")]
        for database in [w.dir.file("nodir/x.db"), w.dir.file("missing.db")] {
            for command in Self.readingCommands {
                let outcome = try ChildProcess.run(command + ["--database", database] + flags)
                #expect(outcome.status == 66, "\(command) \(database): \(outcome.stdout) \(outcome.stderr)")
                #expect(outcome.stderr.contains("does not exist"), "\(command): \(outcome.stderr)")
            }
            #expect(!FileManager.default.fileExists(atPath: database), "a reading command created \(database)")
        }
        // run and rebuild may create the database, but not its directory.
        for command in [["run"], ["rebuild", "count"]] {
            let outcome = try ChildProcess.run(command + ["--database", w.dir.file("nodir/x.db")] + flags)
            #expect(outcome.status == 66, "\(command): \(outcome.stderr)")
        }
        #expect(try ChildProcess.run(["run", "--database", w.dir.file("missing.db")] + flags).status == 0)
    }

    @Test func failuresDiscardListsWhatItDropsAndHasADryRun() throws {
        // Given an apply key parked on a failing event, with a later event held behind it
        let w = try Workspace(job: Workspace.poisonableApplyJob)
        #expect(try w.run().status == 0)
        try Database(path: w.dir.file("p.db")).execute("INSERT INTO poison VALUES('e1')")
        try w.append(10)
        #expect(try w.run().status == 65)
        let held = try Database(path: w.dir.file("p.db")).rows(
            "SELECT position FROM projector_held_events WHERE key = 'k1' ORDER BY position"
        ).compactMap { $0[0].int }
        #expect(held.count == 2)
        let positions = held.map(String.init).joined(separator: ", ")

        // When the operator looks first, then discards
        let dry = try ChildProcess.run(["failures", "discard", "--job", "count", "--key", "k1", "--dry-run"] + w.flags)
        let failuresAfterDryRun = try Database(path: w.dir.file("p.db")).rows("SELECT key FROM projector_failures")
        let discard = try ChildProcess.run(["failures", "discard", "--job", "count", "--key", "k1"] + w.flags)

        // Then both name the key and the positions of the events dropped; only the second drops them
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("count key k1: parked after 1 attempt(s)"), "\(dry.stdout)")
        #expect(dry.stdout.contains("2 held event(s) would be dropped: \(positions)"), "\(dry.stdout)")
        #expect(dry.stdout.contains("would discard 1 failure(s) and 2 held event(s); nothing changed"))
        #expect(failuresAfterDryRun.count == 1)
        #expect(discard.status == 0, "\(discard.stderr)")
        #expect(discard.stdout.contains("2 held event(s) dropped: \(positions)"), "\(discard.stdout)")
        #expect(discard.stdout.contains("discarded 1 failure(s) and 2 held event(s)"))
        let db = try Database(path: w.dir.file("p.db"))
        #expect(try db.rows("SELECT count(*) FROM projector_failures")[0][0].int == 0)
        #expect(try db.rows("SELECT count(*) FROM projector_held_events")[0][0].int == 0)
    }

    @Test func statusOnATruncatedJournalMakesTheRunsCheckpointCheckAndExits65() throws {
        // Given a journal cut short below the checkpoint of a job
        let w = try Workspace()
        try w.append(10)
        #expect(try w.run().status == 0)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: w.dir.file("journal.jsonl")))
        try handle.truncate(atOffset: 300)
        try handle.close()

        // When the operator asks for the status, as text and as JSON
        let run = try w.run()
        let status = try ChildProcess.run(["status"] + w.flags)
        let json = try ChildProcess.run(["status", "--json"] + w.flags)

        // Then status refuses it as the run does, naming the job and position
        #expect(run.status == 65)
        #expect(status.status == 65, "\(status.stdout)")
        #expect(
            status.stdout.contains("PROBLEM: journal no longer matches the checkpoint of job count"), "\(status.stdout)"
        )
        #expect(status.stderr.contains("the journal now ends at"), "\(status.stderr)")
        #expect(json.status == 65)
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let job = (report?["jobs"] as? [[String: Any]])?.first
        #expect((job?["problem"] as? String)?.contains("truncated or replaced") == true, "\(json.stdout)")
    }

    @Test func statusWithAMiddleSegmentDeletedShowsThePositionsAndTheProblem() throws {
        // Given a segmented journal the jobs have read, whose middle segment is then deleted
        let w = try Workspace()
        let writer = try JournalWriter(path: w.dir.file("segments"), directory: true, segmentBytes: 400)
        for i in 0..<12 { _ = try writer.append(Events.line(type: "PING", aggregateId: "k\(i % 3)", id: "e\(i)")) }
        let flags = w.flags.map { $0 == w.dir.file("journal.jsonl") ? w.dir.file("segments") : $0 }
        #expect(try ChildProcess.run(["run"] + flags).status == 0)
        let segments = try Journal(path: w.dir.file("segments")).segments
        #expect(segments.count >= 3)
        let gone = segments[1]
        try FileManager.default.removeItem(atPath: gone.path)

        // When the operator asks for the status
        let status = try ChildProcess.run(["status"] + flags)
        let json = try ChildProcess.run(["status", "--json"] + flags)

        // Then it shows which positions each file holds, the gap, the jobs, and the problem
        #expect(status.status == 65)
        #expect(status.stdout.contains("MISSING"), "\(status.stdout)")
        #expect(status.stdout.contains("\(gone.start)..<\(gone.end)"), "\(status.stdout)")
        #expect(status.stdout.contains("count"), "\(status.stdout)")
        #expect(
            status.stdout.contains("PROBLEM: journal \(w.dir.file("segments")) is inconsistent"), "\(status.stdout)")
        #expect(status.stderr.contains("bytes \(gone.start)..<\(gone.end) are missing"), "\(status.stderr)")
        #expect(json.status == 65)
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let journal = report?["journal"] as? [String: Any]
        #expect((journal?["problem"] as? String)?.contains("are missing") == true, "\(json.stdout)")
        #expect((journal?["files"] as? [Any])?.count == segments.count - 1)
    }

    /// Waits until the lock file beside `database` names `pid` as its holder.
    static func waitForHolder(_ pid: Int32, database: String) -> Bool {
        for _ in 0..<200 {
            let record = (try? String(contentsOfFile: database + ".lock", encoding: .utf8)) ?? ""
            if record.hasPrefix("\(pid) ") { return true }
            usleep(50_000)
        }
        return false
    }

    /// Waits until process `pid` holds a descriptor on `path` (at most 30 s, to stop a hang only).
    static func waitForOpen(_ path: String, by pid: Int32) -> Bool {
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            if descriptors.contains(where: {
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) == target
            }) {
                return true
            }
            usleep(10_000)
        }
        return false
    }

    @Test func commandsThatFindTheLockHeldSayWhoHoldsItAndGiveUpAfterTheTimeout() throws {
        // Given a `run --watch` holding the run lock
        let w = try Workspace()
        try w.append(5)
        let watcher = try ChildProcess(["run", "--watch"] + w.flags)
        defer { if watcher.isRunning { watcher.kill9() } }
        #expect(Self.waitForHolder(watcher.pid, database: w.dir.file("p.db")))
        let holder = "held by PID \(watcher.pid)"

        // When other commands need the lock
        let run = try w.run()
        let rebuild = try ChildProcess.run(["rebuild", "count", "--lock-timeout", "1"] + w.flags)
        let retry = try ChildProcess.run(
            ["webhooks", "retry", "--all-dead", "--deliver", "--lock-timeout", "1"] + w.flags)
        let waitingRun = try ChildProcess.run(["run", "--wait", "--lock-timeout", "0.5"] + w.flags)

        // Then each says who holds it, and those that wait give up with 75 once their timeout passed
        #expect(run.status == 75)
        #expect(run.stderr.contains(holder), "\(run.stderr)")
        for outcome in [rebuild, retry, waitingRun] {
            #expect(outcome.status == 75, "\(outcome.stderr)")
            #expect(outcome.stderr.contains("waiting for the run lock"), "\(outcome.stderr)")
            #expect(outcome.stderr.contains(holder), "\(outcome.stderr)")
            #expect(outcome.stderr.contains("gave up after"), "\(outcome.stderr)")
        }
        #expect(watcher.isRunning, "they returned because the holder stopped, not because they gave up")

        // And a command that waits takes the lock as soon as the holder stops
        let waiting = try ChildProcess(["rebuild", "count", "--lock-timeout", "60"] + w.flags)
        #expect(Self.waitForOpen(w.dir.file("p.db.lock"), by: waiting.pid), "the rebuild never reached the lock")
        usleep(300_000)  // it announces its wait right after its first try, without sleeping first
        kill(watcher.pid, SIGTERM)
        #expect(watcher.wait().status == 0)
        let rebuilt = waiting.wait()
        #expect(rebuilt.status == 0, "\(rebuilt.stderr)")
        #expect(rebuilt.stderr.contains(holder), "\(rebuilt.stderr)")
        #expect(rebuilt.stdout.contains("rebuilt count"))
    }
}

extension OperatorCommandTests {
    /// SIGTERM or SIGINT while waiting for the lock gives up the wait (75): a command the operator
    /// stopped (`systemctl stop`, `timeout`, Ctrl-C) never does its work later.
    @Test func aSignalWhileWaitingForTheLockGivesUpAndDoesNothing() throws {
        let w = try Workspace()
        try w.append(5)
        let watcher = try ChildProcess(["run", "--watch"] + w.flags)
        defer { if watcher.isRunning { watcher.kill9() } }
        #expect(Self.waitForHolder(watcher.pid, database: w.dir.file("p.db")))
        let rebuild = try ChildProcess(["rebuild", "count"] + w.flags)
        let waitingRun = try ChildProcess(["run", "--wait"] + w.flags)
        usleep(1_500_000)
        kill(rebuild.pid, SIGTERM)
        kill(waitingRun.pid, SIGINT)
        // Were the signals ignored, both would wait for the watcher: stop it after a while so
        // that the test fails instead of hanging.
        for _ in 0..<100 where rebuild.isRunning || waitingRun.isRunning { usleep(100_000) }
        let stillWaiting = rebuild.isRunning || waitingRun.isRunning
        if stillWaiting { kill(watcher.pid, SIGTERM) }
        #expect(!stillWaiting, "a signal did not stop the wait for the lock")
        for outcome in [rebuild.wait(), waitingRun.wait()] {
            #expect(outcome.status == 75, "\(outcome.stderr)")
            #expect(outcome.stderr.contains("stopped while waiting for the run lock"), "\(outcome.stderr)")
            #expect(!outcome.stdout.contains("rebuilt count"))
        }
        kill(watcher.pid, SIGTERM)
        #expect(watcher.wait().status == 0)
    }

    /// Commands that queue a notification without signing it (replay) and the scratch build of a
    /// rebuild say nothing misleading about the endpoints.
    @Test func replayAndRebuildDoNotWarnAboutConfiguredEndpoints() throws {
        let w = try Workspace(
            job: """
                -- on: PING key: aggregateId
                -- webhooks: cache
                -- @setup
                CREATE TABLE IF NOT EXISTS seen(key TEXT PRIMARY KEY);
                -- @refresh
                INSERT OR IGNORE INTO seen(key) VALUES(:key);
                """)
        try w.dir.write(
            "projector.json",
            #"{"webhooks":{"cache":{"url":"http://127.0.0.1:9/h","allowHTTP":true,"secretEnv":"CACHE_SECRET"}},"#
                + #""webhookBudgetSeconds":1}"#)
        let config = ["--config", w.dir.file("projector.json")]
        let secret = ["CACHE_SECRET": WebhookSecret.generate()]
        try w.append(3)
        #expect(try ChildProcess.run(["run"] + w.flags + config, environment: secret).status == 0)

        let replay = try ChildProcess.run(["replay", "count", "--aggregate", "k1"] + w.flags + config)
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(!replay.stderr.contains("no longer configured"), "\(replay.stderr)")
        #expect(replay.stderr.contains("the next run delivers it"), "\(replay.stderr)")

        let rebuild = try ChildProcess.run(["rebuild", "count"] + w.flags + config, environment: secret)
        #expect(rebuild.status == 0, "\(rebuild.stderr)")
        #expect(!rebuild.stderr.contains("no endpoint is configured"), "\(rebuild.stderr)")
    }

    /// Every command that reads the database names a file that is not one (78), as `run` does.
    @Test func aFileThatIsNotADatabaseIsNamedByEveryCommandThatReadsIt() throws {
        let w = try Workspace()
        try w.append(3)
        let notADatabase = try w.dir.write("notdb.db", "just some text, not SQLite\n")
        let flags = [
            "--database", notADatabase, "--journal", w.dir.file("journal.jsonl"), "--jobs-dir", w.dir.file("jobs"),
        ]
        for command in [
            ["status"], ["failures", "list"], ["failures", "retry", "--all"], ["webhooks", "list"],
            ["journal", "prune", "--dry-run"], ["verify", "count"], ["run"],
        ] {
            let outcome = try ChildProcess.run(command + flags)
            #expect(outcome.status == 78, "\(command): \(outcome.stderr)")
            #expect(
                outcome.stderr.contains("\(notADatabase) is not a SQLite database"), "\(command): \(outcome.stderr)")
        }
        #expect(try String(contentsOfFile: notADatabase, encoding: .utf8) == "just some text, not SQLite\n")
    }

    /// After `journal prune`, a job that replays history cannot be rebuilt: said plainly, exit 78,
    /// and no scratch database left behind to be "resumed" later.
    @Test func rebuildingAnApplyJobAfterPruneSaysWhyAndLeavesNothingBehind() throws {
        let w = try Workspace()
        let journal = w.dir.file("segments")
        let writer = try JournalWriter(path: journal, directory: true, segmentBytes: 2_000)
        for i in 0..<60 { _ = try writer.append(Events.line(type: "PING", aggregateId: "k\(i % 5)", id: "e\(i)")) }
        let flags = ["--database", w.dir.file("p.db"), "--journal", journal, "--jobs-dir", w.dir.file("jobs")]
        #expect(try ChildProcess.run(["run"] + flags).status == 0)
        #expect(try ChildProcess.run(["journal", "prune"] + flags).status == 0)
        for command in [["rebuild", "count"], ["verify", "count"]] {
            let outcome = try ChildProcess.run(command + flags)
            #expect(outcome.status == 78, "\(command): \(outcome.stderr)")
            #expect(outcome.stderr.contains("being rebuilt or verified"), "\(outcome.stderr)")
            #expect(outcome.stderr.contains("were pruned (`journal prune`)"), "\(outcome.stderr)")
            #expect(!FileManager.default.fileExists(atPath: w.dir.file("p.db.rebuild-count.db")))
        }
    }

    /// The run summary shows keys held back behind a failed upstream key (`after:`).
    @Test func theSummaryShowsKeysWaitingForAFailedUpstreamKey() throws {
        let w = try Workspace(
            job: """
                -- on: PING key: aggregateId
                -- @setup
                CREATE TABLE IF NOT EXISTS up(key TEXT PRIMARY KEY);
                -- @refresh
                INSERT OR IGNORE INTO up(key) VALUES(:key);
                """)
        try w.dir.write(
            "jobs/down.sql",
            """
            -- on: PING key: aggregateId
            -- after: count
            -- @setup
            CREATE TABLE IF NOT EXISTS down(key TEXT PRIMARY KEY, seen INTEGER NOT NULL);
            -- @refresh
            INSERT OR REPLACE INTO down(key, seen) SELECT :key, count(*) FROM up WHERE key = :key;
            """)
        try w.append(1)
        #expect(try w.run().status == 0)
        try Database(path: w.dir.file("p.db")).execute(
            "CREATE TRIGGER no_k2 BEFORE INSERT ON up WHEN NEW.key = 'k2' BEGIN SELECT raise(ABORT, 'no'); END")
        try w.append(3, start: 1)
        let outcome = try w.run()
        #expect(outcome.status == 65)
        let lines = outcome.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        // Columns counted from the right: "ran" reads "3 refreshes" (two words).
        let header = try #require(lines.first { $0.first == "job" })
        #expect(header.suffix(3) == ["waiting", "dup", "position"], "\(outcome.stdout)")
        #expect(lines.first { $0.first == "down" }?.dropLast(2).last == "1", "\(outcome.stdout)")
        #expect(lines.first { $0.first == "count" }?.dropLast(2).last == "0", "\(outcome.stdout)")
    }

    /// A rebuild or whole verify re-reads the journal: rejects the runs already reported are not
    /// logged again.
    @Test func rebuildAndVerifyDoNotReportOldRejectsAgain() throws {
        let w = try Workspace()
        try w.append(3)
        try w.dir.append("journal.jsonl", "not json at all\n")
        try w.append(2, start: 3)
        let first = try w.run()
        #expect(first.status == 65)
        #expect(first.stderr.contains("line rejected"), "\(first.stderr)")
        for command in [["verify", "count"], ["rebuild", "count"]] {
            let outcome = try ChildProcess.run(command + w.flags)
            #expect(outcome.status == 0, "\(command): \(outcome.stderr)")
            #expect(!outcome.stderr.contains("line rejected"), "\(command): \(outcome.stderr)")
        }
    }
}
