import Foundation
import Journal
import Logging
import ProjectorCore
import Runner
import SQLiteStore
import TestSupport
import Testing
import Webhooks

@Suite struct RefreshTests {
    @Test func tenEventsForOneKeyCauseOneRefresh() throws {
        let f = try Fixture()
        for _ in 0..<10 { try f.append(f.ping("42")) }
        for _ in 0..<3 { try f.append(f.ping("7")) }
        let report = try f.run()
        #expect(report.outcome.isClean)
        #expect(try f.rows("SELECT key, n FROM refreshes ORDER BY key") == [["42", "1"], ["7", "1"]])
        #expect(report.jobs.first { $0.name == "counter" }?.executions == 2)
        #expect(report.caughtUp)
    }

    @Test func oneEventTypeOnTwoKeySourcesYieldsBothKeys() throws {
        let f = try Fixture(jobs: [
            "two": """
            -- on: PING key: aggregateId
            -- on: PING key: data.other
            -- @setup
            CREATE TABLE IF NOT EXISTS refreshes(key TEXT PRIMARY KEY, n INTEGER NOT NULL);
            -- @refresh
            INSERT INTO refreshes(key, n) VALUES(:key, 1) ON CONFLICT(key) DO UPDATE SET n = n + 1;
            """
        ])
        try f.append(Events.line(type: "PING", aggregateId: "1", data: #"{"other":2}"#))
        try f.run()
        #expect(try f.rows("SELECT key FROM refreshes ORDER BY key") == [["1"], ["2"]])
    }

    @Test func aFailingKeyIsRolledBackAloneAndTheRestCommits() throws {
        let f = try Fixture()
        try f.run()
        try f.execute("INSERT INTO poison VALUES('13')")
        try f.append(f.ping("12"), f.ping("13"), f.ping("14"))
        let report = try f.run()
        #expect(report.outcome.isClean == false)
        #expect(report.failures == 1)
        #expect(try f.rows("SELECT key FROM refreshes ORDER BY key") == [["12"], ["14"]])
        let failure = try f.rows("SELECT job, key, state, attempts FROM projector_failures")
        #expect(failure == [["counter", "13", "retrying", "1"]])
        #expect(try f.rows("SELECT error FROM projector_failures").first?.first?.contains("poisoned key") == true)
        // The checkpoint moved past the batch: the failure is retried from its record, not by re-reading.
        #expect(try f.scalar("SELECT position FROM projector_checkpoints WHERE job = 'counter'") == report.journalEnd)
    }

    @Test func failedKeysBackOffThenDieThenRecoverOnANewEvent() throws {
        try Guarantees.failedKeysBackOffThenDieThenRecoverOnANewEvent(try Fixture())
    }

    @Test func aRetryAfterTheBackoffSucceedsOnceTheCauseIsGone() throws {
        let f = try Fixture()
        try f.run()
        try f.execute("INSERT INTO poison VALUES('5')")
        try f.append(f.ping("5"))
        try f.run()
        try f.execute("DELETE FROM poison")
        f.clock.time += 11
        let report = try f.run()
        #expect(report.recovered == 1)
        #expect(report.outcome.isClean)
        #expect(try f.rows("SELECT key, n FROM refreshes") == [["5", "1"]])
    }

    @Test func aNewRefreshJobWithKeysRefreshesEveryKeyInsteadOfReplaying() throws {
        let f = try Fixture(jobs: [
            "things": """
            -- on: PING key: aggregateId
            -- @setup
            CREATE TABLE IF NOT EXISTS refreshes(key TEXT PRIMARY KEY, n INTEGER NOT NULL);
            -- @refresh
            INSERT INTO refreshes(key, n) VALUES(:key, 1) ON CONFLICT(key) DO UPDATE SET n = n + 1;
            -- @keys
            SELECT id FROM source
            """
        ])
        for i in 0..<100 { try f.append(f.ping(String(i % 10))) }
        try f.execute(
            """
            CREATE TABLE source(id INTEGER PRIMARY KEY);
            INSERT INTO source VALUES(1), (2), (3);
            """
        )
        let report = try f.run()
        let job = try #require(report.jobs.first)
        #expect(job.initialized)
        #expect(job.executions == 3)
        #expect(job.events == 0)
        #expect(try f.rows("SELECT key FROM refreshes ORDER BY key") == [["1"], ["2"], ["3"]])
        #expect(try f.scalar("SELECT position FROM projector_checkpoints") == report.journalEnd)

        // From then on it follows new events only.
        try f.append(f.ping("9"))
        let next = try f.run()
        #expect(next.jobs.first?.events == 1)
        #expect(try f.rows("SELECT key FROM refreshes ORDER BY key") == [["1"], ["2"], ["3"], ["9"]])
    }
}

extension RefreshTests {
    /// Found by the crash soak: an initialization killed halfway left rows of keys that were
    /// deleted before the next attempt, and the next attempt refreshed only existing keys.
    @Test func anInterruptedInitializationLeavesNoStaleRows() throws {
        let f = try Fixture(jobs: [
            "things": """
            -- on: PING key: aggregateId
            -- @setup
            CREATE TABLE IF NOT EXISTS refreshes(key TEXT PRIMARY KEY, n INTEGER NOT NULL);
            -- @refresh
            DELETE FROM refreshes WHERE key = :key;
            INSERT INTO refreshes(key, n) SELECT :key, 1 FROM source WHERE id = :key;
            -- @keys
            SELECT id FROM source
            """
        ])
        // Given what a killed first run leaves: rows of its first chunk, no checkpoint,
        try f.execute(
            """
            CREATE TABLE source(id INTEGER PRIMARY KEY);
            INSERT INTO source VALUES(1), (2);
            CREATE TABLE refreshes(key TEXT PRIMARY KEY, n INTEGER NOT NULL);
            INSERT INTO refreshes VALUES('1', 1), ('9', 1);
            """)
        // when key 9 no longer exists and the job initializes again,
        try f.run()
        // then only existing keys have rows.
        #expect(try f.rows("SELECT key FROM refreshes ORDER BY key") == [["1"], ["2"]])
    }
}

@Suite struct ApplyTests {
    @Test func eachEventIsAppliedExactlyOnceAcrossRuns() throws {
        let f = try Fixture()
        try f.append(f.ping("a", id: "1", n: 1), f.ping("b", id: "2", n: 2), f.ping("a", id: "3", n: 3))
        try f.run()
        try f.run()
        #expect(try f.scalar("SELECT count(*) FROM applied") == 3)
        try f.append(f.ping("a", id: "4", n: 4))
        try f.run()
        #expect(
            try f.rows("SELECT key, n FROM applied WHERE key = 'a' ORDER BY seq") == [
                ["a", "1"], ["a", "3"], ["a", "4"],
            ])
        #expect(try f.scalar("SELECT events_applied FROM projector_checkpoints WHERE job = 'log'") == 4)
    }

    @Test func bindsEveryEventParameter() throws {
        let f = try Fixture()
        try f.append(
            #"{"id":"e1","type":"PING","aggregateType":"test_run","aggregateId":77,"occurredAt":"2026-11-26T10:00:00.000Z","data":{"n":5},"metadata":{"user":"u\"1"}}"#
        )
        try f.run()
        #expect(
            try f.rows("SELECT key, position, id, type, n, aggregate_type, occurred_at, meta FROM applied")
                == [["77", "0", "e1", "PING", "5", "test_run", "2026-11-26T10:00:00.000Z", "u\"1"]]
        )
    }

    @Test func anEventAppendedTwiceWithTheSameIdIsAppliedOnce() throws {
        let f = try Fixture()
        try f.append(f.ping("a", id: "same", n: 1), f.ping("a", id: "same", n: 1), f.ping("a", id: "other", n: 2))
        let report = try f.run()
        #expect(report.jobs.first { $0.name == "log" }?.duplicates == 1)
        try f.append(f.ping("a", id: "same", n: 1))
        try f.run()
        #expect(try f.rows("SELECT id FROM applied ORDER BY seq") == [["same"], ["other"]])
    }

    @Test func aFailedEventParksItsKeyAndKeepsOrderWhileOthersGoOn() throws {
        let f = try Fixture()
        try f.run()
        try f.execute("INSERT INTO poison_events VALUES('a2')")
        try f.append(
            f.ping("A", id: "a1"), f.ping("A", id: "a2"), f.ping("B", id: "b1"), f.ping("A", id: "a3"),
            f.ping("B", id: "b2")
        )
        let first = try f.run()
        #expect(first.outcome.isClean == false)
        #expect(try f.rows("SELECT id FROM applied ORDER BY seq") == [["a1"], ["b1"], ["b2"]])
        #expect(try f.rows("SELECT key, state FROM projector_failures WHERE job = 'log'") == [["A", "parked"]])
        #expect(try f.scalar("SELECT count(*) FROM projector_held_events") == 2)

        // New events of the parked key are held back too; other keys go on.
        try f.append(f.ping("A", id: "a4"), f.ping("B", id: "b3"))
        let second = try f.run()
        #expect(second.jobs.first { $0.name == "log" }?.held == 1)
        #expect(try f.rows("SELECT id FROM applied ORDER BY seq") == [["a1"], ["b1"], ["b2"], ["b3"]])

        // Once the cause is gone and the backoff passed, the held events apply in journal order.
        try f.execute("DELETE FROM poison_events")
        f.clock.time += 11
        let third = try f.run()
        #expect(third.recovered == 1)
        #expect(try f.rows("SELECT id FROM applied WHERE key = 'A' ORDER BY seq") == [["a1"], ["a2"], ["a3"], ["a4"]])
        #expect(try f.scalar("SELECT count(*) FROM projector_held_events") == 0)
        try f.append(f.ping("A", id: "a5"))
        try f.run()
        #expect(try f.rows("SELECT id FROM applied WHERE key = 'A' ORDER BY seq").last == ["a5"])
    }

    @Test func aKeyFailingInOneJobLeavesAnotherJobsWorkOnTheKey() throws {
        try Guarantees.aKeyFailingInOneJobLeavesAnotherJobsWorkOnTheKey(try Fixture())
    }

    @Test func aParkedRetryThatFailsLaterKeepsWhatSucceeded() throws {
        let f = try Fixture()
        try f.run()
        try f.execute("INSERT INTO poison_events VALUES('a1')")
        try f.append(f.ping("A", id: "a1"), f.ping("A", id: "a2"), f.ping("A", id: "a3"))
        try f.run()
        try f.execute("DELETE FROM poison_events; INSERT INTO poison_events VALUES('a3')")
        f.clock.time += 11
        try f.run()
        #expect(try f.rows("SELECT id FROM applied ORDER BY seq") == [["a1"], ["a2"]])
        #expect(
            try f.rows("SELECT state, attempts, first_position FROM projector_failures")[0][0...1] == ["parked", "2"])
        #expect(try f.scalar("SELECT count(*) FROM projector_held_events") == 1)
    }
}

@Suite struct JournalInputTests {
    @Test func everyBadLineIsARecordedRejectAndTheRestIsApplied() throws {
        let f = try Fixture()
        try f.dir.write("journal.jsonl", "")
        try f.append(f.ping("ok1", id: "1"))
        try f.append("not json")
        try f.append("")
        try f.append(#"{"type":"PING","aggregateType":"t"}"#)
        try f.append("{\"a\":" + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}")
        try f.dir.append(
            "journal.jsonl",
            Array(#"{"type":"PING","aggregateType":"t","aggregateId":""#.utf8) + [0xFF, 0x22, 0x7D, 0x0A])
        try f.append(
            #"{"type":"PING","aggregateType":"t","aggregateId":"x","data":""# + String(repeating: "z", count: 2000)
                + #""}"#)
        try f.append(f.ping("ok2", id: "2"))
        let report = try f.run { $0.maxLineBytes = 1000 }
        #expect(report.outcome.isClean == false)
        #expect(report.rejects == 6)
        #expect(
            try f.rows("SELECT code FROM projector_rejects ORDER BY position").map { $0[0] }
                == ["invalid_json", "empty_line", "missing_field", "too_deep", "invalid_utf8", "too_long"]
        )
        #expect(try f.rows("SELECT id FROM applied ORDER BY seq") == [["1"], ["2"]])
        // Rejects are recorded once even when a later run reads the lines again.
        try f.run { $0.maxLineBytes = 1000 }
        #expect(try f.scalar("SELECT count(*) FROM projector_rejects") == 6)
    }

    @Test func anEventWithoutItsKeyIsRejectedForThatJobOnly() throws {
        let f = try Fixture()
        try f.append(Events.line(type: "PONG", aggregateId: "1", id: "p", data: #"{"n":1}"#))
        let report = try f.run()
        #expect(report.outcome.isClean == false)
        #expect(try f.rows("SELECT job, code FROM projector_rejects") == [["counter", "key_missing"]])
        #expect(try f.rows("SELECT id FROM applied") == [["p"]])
    }

    @Test func aTornTailIsLeftForTheNextRun() throws {
        let f = try Fixture()
        try f.append(f.ping("a", id: "1"))
        try f.dir.append("journal.jsonl", Array(#"{"id":"2","type":"PING","aggreg"#.utf8))
        let first = try f.run()
        #expect(first.outcome.isClean)
        #expect(try f.scalar("SELECT count(*) FROM applied") == 1)
        try f.dir.append("journal.jsonl", Array(#"ateType":"t","aggregateId":"a"}"#.utf8) + [0x0A])
        try f.run()
        #expect(try f.rows("SELECT id FROM applied ORDER BY seq") == [["1"], ["2"]])
    }

    @Test func aRewrittenJournalStopsTheRunNamingJobAndPosition() throws {
        let f = try Fixture()
        let message = try Guarantees.aReplacedJournalIsRefused(f, replacement: [f.ping("a", id: "1")])
        #expect(message.contains("job counter") || message.contains("job log"))
        #expect(message.contains("truncated"))
    }

    @Test func segmentedJournalsAreReadAcrossFiles() throws {
        let f = try Fixture()
        let appender = try JournalWriter(path: f.dir.file("segments"), directory: true, segmentBytes: 300)
        for i in 0..<20 { try appender.append(f.ping("k\(i % 3)", id: "e\(i)")) }
        #expect(try Journal(path: f.dir.file("segments")).segments.count > 3)
        f.options.journalPath = f.dir.file("segments")
        let report = try f.run()
        #expect(report.events == 20)
        #expect(try f.scalar("SELECT count(*) FROM applied") == 20)
    }
}

@Suite struct RunControlTests {
    @Test func maxEventsStopsEarlyAndTheNextRunContinues() throws {
        let f = try Fixture()
        for i in 0..<50 { try f.append(f.ping("k\(i % 5)", id: "e\(i)")) }
        let first = try f.run {
            $0.maxEvents = 20; $0.batchEvents = 7
        }
        #expect(first.events == 20)
        #expect(!first.caughtUp)
        #expect(try f.scalar("SELECT count(*) FROM applied") == 20)
        let second = try f.run()
        #expect(second.events == 30)
        #expect(second.caughtUp)
        #expect(try f.scalar("SELECT count(*) FROM applied") == 50)
    }

    @Test func aDryRunWritesNothing() throws {
        let f = try Fixture()
        for i in 0..<10 { try f.append(f.ping("k\(i % 4)", id: "e\(i)")) }
        let report = try f.run { $0.dryRun = true }
        #expect(report.events == 10)
        #expect(report.jobs.first { $0.name == "counter" }?.executions == 4)
        #expect(report.jobs.first { $0.name == "log" }?.executions == 10)
        #expect(!FileManager.default.fileExists(atPath: f.options.databasePath))
    }

    @Test func selectedJobsRunAlone() throws {
        let f = try Fixture()
        try f.append(f.ping("k", id: "1"))
        let report = try f.run { $0.selectedJobs = ["log"] }
        #expect(report.jobs.map(\.name) == ["log"])
        #expect(try f.rows("SELECT job FROM projector_checkpoints") == [["log"]])
        #expect(throws: RunError.self) { try f.run { $0.selectedJobs = ["nope"] } }
    }

    @Test func validationCatchesAColumnTypoWithItsLine() throws {
        let f = try Fixture(jobs: [
            "typo": """
            -- on: PING
            -- @setup
            CREATE TABLE IF NOT EXISTS v(id INTEGER PRIMARY KEY);
            -- @refresh
            DELETE FROM v WHERE id = :key;
            INSERT INTO v(idd) VALUES(:key);
            """
        ])
        var logger = Logging.Logger(label: "t")
        logger.logLevel = .critical
        do {
            _ = try ProjectionRun(options: f.options, logger: logger).validate()
            Issue.record("validation passed")
        } catch {
            #expect(error.description == "\(f.dir.file("jobs/typo.sql")):6: table v has no column named idd")
        }
        #expect(!FileManager.default.fileExists(atPath: f.options.databasePath))
    }

    @Test func unknownParametersAreDefinitionErrors() throws {
        let f = try Fixture(jobs: [
            "bad": """
            -- on: PING
            -- @apply
            SELECT :nope;
            """
        ])
        #expect {
            try f.run()
        } throws: { error in
            (error as? RunError)?.description.contains("bad.sql:3: unknown parameter ':nope'") == true
        }
    }

    /// A rebuild replaces the tables a job's `@setup` creates: two jobs creating one table would
    /// wipe each other's rows, so the jobs are refused, naming both files and lines.
    @Test func twoJobsCreatingOneTableAreRefused() throws {
        let f = try Fixture(jobs: [
            "first": """
            -- on: PING
            -- @setup
            CREATE TABLE IF NOT EXISTS own(key TEXT PRIMARY KEY);
            CREATE TABLE IF NOT EXISTS Totals(key TEXT PRIMARY KEY, n INTEGER);
            -- @apply
            INSERT INTO Totals VALUES(:key, 1) ON CONFLICT(key) DO UPDATE SET n = n + 1;
            """,
            "second": """
            -- on: PING
            -- @setup

            CREATE TABLE IF NOT EXISTS totals(key TEXT PRIMARY KEY, n INTEGER);
            -- @refresh
            INSERT OR REPLACE INTO totals VALUES(:key, 0);
            """,
        ])
        let expected =
            "\(f.dir.file("jobs/second.sql")):4: table 'totals' is also created by \(f.dir.file("jobs/first.sql")):4 "
            + "(job 'first')"
        var logger = Logging.Logger(label: "t")
        logger.logLevel = .critical
        #expect {
            try ProjectionRun(options: f.options, logger: logger).validate()
        } throws: { error in
            (error as? RunError)?.description.hasPrefix(expected) == true
        }
        #expect {
            try f.run()
        } throws: { error in
            (error as? RunError)?.description.hasPrefix(expected) == true
        }
        #expect(!FileManager.default.fileExists(atPath: f.options.databasePath))
    }

    @Test func anUnknownWebhookEndpointIsReportedOnItsLine() throws {
        let f = try Fixture(jobs: [
            "hooked": """
            -- Notifies the dashboard.
            -- on: PING
            -- webhooks: dash
            --
            -- webhooks: dahs
            -- @apply
            SELECT :key;
            """
        ])
        f.options.endpoints = [
            WebhookEndpoint(
                name: "dash", url: "http://127.0.0.1:9/", secrets: [try WebhookSecret(WebhookSecret.generate())],
                allowHTTP: true)
        ]
        #expect {
            try f.run()
        } throws: { error in
            (error as? RunError)?.description
                == "\(f.dir.file("jobs/hooked.sql")):5: 'webhooks:' names 'dahs', which is not a configured endpoint"
        }
    }

    @Test func statusShowsPositionsLagFailuresAndTheLastRun() throws {
        let f = try Fixture()
        try f.append(f.ping("a", id: "1"), f.ping("b", id: "2"))
        try f.run { $0.selectedJobs = ["counter"] }
        try f.execute("INSERT INTO poison VALUES('c')")
        try f.append(f.ping("c", id: "3"), "garbage")
        try f.run { $0.selectedJobs = ["counter"] }
        try f.append(f.ping("d", id: "4"))
        let status = try StatusReport.load(options: f.options)
        let counter = try #require(status.jobs.first { $0.name == "counter" })
        let log = try #require(status.jobs.first { $0.name == "log" })
        #expect(counter.lagEvents == 1)
        #expect(counter.failures.retrying == 1)
        #expect(!counter.fingerprintChanged)
        #expect(log.position == nil)
        #expect(log.lagEvents == 5)
        #expect(status.rejects == 1)
        #expect(status.lastRun?.outcome == "failures")

        // A comment does not change what the job does; its SQL does.
        try f.dir.write("jobs/counter.sql", "-- Counts refreshes.\n" + Fixture.refreshJob + "\n-- edited\n")
        #expect(
            try StatusReport.load(options: f.options).jobs.first { $0.name == "counter" }?.fingerprintChanged == false)
        try f.dir.write("jobs/counter.sql", Fixture.refreshJob.replacingOccurrences(of: "n + 1", with: "n + 2"))
        #expect(
            try StatusReport.load(options: f.options).jobs.first { $0.name == "counter" }?.fingerprintChanged == true)
    }

    /// Runs after a change go on under the new definition, but the read model was built by the old
    /// one: status says so until a rebuild, instead of forgetting it at the next batch.
    @Test func aChangedDefinitionStaysFlaggedUntilRebuilt() throws {
        let f = try Fixture()
        try f.append(f.ping("a", id: "1"))
        try f.run()
        try f.dir.write("jobs/counter.sql", Fixture.refreshJob.replacingOccurrences(of: "n + 1", with: "n + 2"))
        try f.append(f.ping("b", id: "2"))
        try f.run()
        func changed() throws -> Bool? {
            try StatusReport.load(options: f.options).jobs.first { $0.name == "counter" }?.fingerprintChanged
        }
        #expect(try changed() == true)
        var logger = Logging.Logger(label: "t")
        logger.logLevel = .critical
        _ = try Rebuild(options: f.options, logger: logger, clock: f.clock).execute(jobs: ["counter"])
        #expect(try changed() == false)
        try f.append(f.ping("c", id: "3"))
        try f.run()
        #expect(try changed() == false)
    }

    /// Checkpoints written before fingerprints were versioned hold a hash of the file's text: after
    /// an upgrade an unchanged file is not reported changed, and the next run stores the new form.
    @Test func anUpgradeDoesNotMarkUnchangedJobsChanged() throws {
        let f = try Fixture()
        try f.append(f.ping("a", id: "1"))
        try f.run()
        try f.execute(
            "UPDATE projector_checkpoints SET fingerprint = '\(Fingerprint.hex(Fingerprint.fnv1a(Fixture.refreshJob)))' "
                + "WHERE job = 'counter'")
        try f.execute("UPDATE projector_checkpoints SET fingerprint = '0123456789abcdef' WHERE job = 'log'")
        let status = try StatusReport.load(options: f.options)
        #expect(status.jobs.first { $0.name == "counter" }?.fingerprintChanged == false)
        #expect(status.jobs.first { $0.name == "log" }?.fingerprintChanged == true)
        try f.append(f.ping("b", id: "2"))
        try f.run { $0.selectedJobs = ["counter"] }
        #expect(
            try f.rows("SELECT fingerprint FROM projector_checkpoints WHERE job = 'counter'")[0][0].hasPrefix("v2:"))
    }
}

@Suite struct RunErrorTests {
    /// What to check after an unexpected database error depends on the database: SQLite's file
    /// (its integrity check), PostgreSQL's server log.
    @Test func anUnexpectedDatabaseErrorSaysWhatToCheckForItsDatabase() {
        let sqlite = RunError.database(
            StoreError(kind: .other, message: "disk I/O error", code: "SQLite error 10", description: "disk I/O error"))
        #expect(sqlite.description.contains("PRAGMA integrity_check"), "\(sqlite)")
        let postgres = RunError.database(
            StoreError(kind: .other, message: "index corrupted", code: "SQLSTATE XX002", description: "index corrupted")
        )
        #expect(postgres.description.hasSuffix("check the server's log"), "\(postgres)")
        #expect(!postgres.description.contains("sqlite3"), "\(postgres)")
    }
}
