import Foundation
import QaHubDemo
import Runner
import TestSupport
import Testing
import Webhooks

/// The guarantees of the SQLite store, on PostgreSQL (SPEC §10): coalescing, backoff, the journal
/// cursor check, the outbox and one job's failure kept from another's work, against a real server.
@Suite(.postgresServer) struct PostgresGuaranteeTests {
    @Test func aRefreshJobRunsOncePerKeyPerBatchAndAnApplyJobSeesEveryEventInOrder() throws {
        let f = try PostgresFixture()
        // PING keys the refresh by aggregate, PONG by data.target: both name the same key here.
        let keys = ["42", "7", "42", "42", "7", "42", "42", "42", "7", "42"]
        for (i, key) in keys.enumerated() {
            try f.append(f.ping(key, id: "e\(i)", n: i, type: ["PING", "PONG"][i % 2]))
        }
        let first = try f.run()
        #expect(first.batches == 1)
        #expect(first.jobs.first { $0.name == "counter" }?.executions == 2)
        #expect(first.jobs.first { $0.name == "log" }?.executions == 10)
        #expect(try f.rows("SELECT key, n FROM refreshes ORDER BY key") == [["42", "1"], ["7", "1"]])
        func applied(_ key: String) throws -> [String] {
            try f.rows("SELECT id FROM applied WHERE key = '\(key)' ORDER BY seq").map { $0[0] }
        }
        #expect(try applied("42") == ["e0", "e2", "e3", "e5", "e6", "e7", "e9"])
        #expect(try applied("7") == ["e1", "e4", "e8"])
        #expect(
            try f.rows("SELECT n FROM applied ORDER BY position").map { $0[0] } == (0..<10).map(String.init),
            "each event applied once with its own data")

        // The next run: once per key again, for the keys of the new events only.
        try f.append(f.ping("42", id: "e10"), f.ping("9", id: "e11"), f.ping("42", id: "e12"))
        let second = try f.run()
        #expect(second.jobs.first { $0.name == "counter" }?.executions == 2)
        #expect(try f.rows("SELECT key, n FROM refreshes ORDER BY key") == [["42", "2"], ["7", "1"], ["9", "1"]])
        #expect(try applied("42").suffix(2) == ["e10", "e12"])

        // Once per batch: seven events of one key in batches of three refresh it three times.
        for i in 0..<7 { try f.append(f.ping("7", id: "s\(i)")) }
        let third = try f.run { $0.batchEvents = 3 }
        #expect(third.batches == 3)
        #expect(third.jobs.first { $0.name == "counter" }?.executions == 3)
        #expect(try f.rows("SELECT n FROM refreshes WHERE key = '7'") == [["4"]])
        #expect(try applied("7") == ["e1", "e4", "e8"] + (0..<7).map { "s\($0)" })
    }

    @Test func aFailingKeyBacksOffThenDiesThenRecoversOnANewEvent() throws {
        try Guarantees.failedKeysBackOffThenDieThenRecoverOnANewEvent(try PostgresFixture())
    }

    @Test func failureAdminRetriesADeadKeyAndDiscardsAnotherWithItsHeldEvents() throws {
        let f = try PostgresFixture()
        try f.start(
            poisoning: "INSERT INTO poison_events VALUES('a2'), ('b1')",
            events: [
                f.ping("A", id: "a1"), f.ping("A", id: "a2"), f.ping("B", id: "b1"), f.ping("A", id: "a3"),
                f.ping("B", id: "b2"),
            ])
        #expect(try f.run().failures == 2)
        f.clock.time += 11
        #expect(try f.run().failures == 2)
        f.clock.time += 21
        #expect(try f.run().failures == 2)
        let failures = "SELECT key, state, attempts FROM projector.failures WHERE job = 'log' ORDER BY key"
        #expect(try f.rows(failures) == [["A", "dead", "3"], ["B", "dead", "3"]])

        // retry: the dead key is due now with a fresh count; its held events apply in order.
        let admin = try FailureAdmin(databasePath: f.options.databasePath)
        #expect(try admin.list(state: "dead").map(\.key) == ["A", "B"])
        #expect(try admin.retry(job: "log", key: "A", now: f.clock.now()) == 1)
        #expect(try f.rows(failures) == [["A", "parked", "0"], ["B", "dead", "3"]])
        try f.execute("DELETE FROM poison_events WHERE id = 'a2'")
        #expect(try f.run().recovered == 1)
        #expect(try f.rows("SELECT id FROM applied WHERE key = 'A' ORDER BY seq") == [["a1"], ["a2"], ["a3"]])

        // discard: the key's held events are dropped, never applied; the key goes on with new events.
        let discarded = try admin.discard(job: "log", key: "B", onlyDead: true)
        #expect(discarded.map(\.key) == ["B"])
        #expect(discarded.first?.droppedPositions.count == 2)
        #expect(try f.scalar("SELECT count(*) FROM projector.failures") == 0)
        #expect(try f.scalar("SELECT count(*) FROM projector.held_events") == 0)
        try f.append(f.ping("B", id: "b3"))
        #expect(try f.run().outcome.isClean)
        #expect(try f.rows("SELECT id FROM applied WHERE key = 'B' ORDER BY seq") == [["b3"]])
    }

    /// The same journal, replaced three ways under the checkpoints: PostgreSQL refuses as SQLite does.
    @Test func aJournalReplacedUnderTheCheckpointsIsRefusedAsOnSQLite() throws {
        let replacements: [(String, [String])] = [
            ("truncated or replaced", [Fixture.ping("a", id: "1")]),
            ("truncated or replaced", []),
            ("(rewritten)", [Fixture.ping("a", id: "1"), Fixture.ping("b", id: "X"), Fixture.ping("c", id: "3")]),
        ]
        for (detail, replacement) in replacements {
            let onPostgres = try Guarantees.aReplacedJournalIsRefused(try PostgresFixture(), replacement: replacement)
            let onSQLite = try Guarantees.aReplacedJournalIsRefused(try Fixture(), replacement: replacement)
            #expect(onPostgres == onSQLite)
            #expect(onPostgres.contains(detail), "\(onPostgres)")
        }
    }

    @Test func aNotificationIsQueuedWithItsBatchAndDeliveredToARealReceiver() throws {
        let secret = try WebhookSecret(WebhookSecret.generate())
        let receiver = try WebhookReceiver(secrets: [secret])
        let f = try PostgresFixture()
        f.options.endpoints = [try dashEndpoint(receiver, secrets: [secret])]
        f.clock.time = Date().timeIntervalSince1970  // the receiver checks timestamps against its clock
        try f.run()

        // A batch that cannot commit (the checkpoint of `log`, after `counter`'s work and
        // notification, is refused) leaves nothing to notify.
        try f.execute(
            """
            CREATE FUNCTION public.refuse_checkpoints() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'checkpoint refused'; END $$;
            CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON projector.checkpoints
                FOR EACH ROW WHEN (NEW.job = 'log') EXECUTE FUNCTION public.refuse_checkpoints();
            """)
        try f.append(f.ping("1"), f.ping("2"), f.ping("1"))
        #expect(throws: RunError.self) { try f.run() }
        #expect(try f.scalar("SELECT count(*) FROM refreshes") == 0)
        #expect(try f.scalar("SELECT count(*) FROM projector.notification_state") == 0)
        #expect(try f.scalar("SELECT count(*) FROM projector.webhook_outbox") == 0)
        #expect(receiver.received.isEmpty)

        // Committed, the same work is notified once, signed, and recorded as delivered.
        try f.execute("DROP TRIGGER refuse ON projector.checkpoints")
        let report = try f.run()
        #expect(report.notificationsQueued == 1)
        #expect(report.deliveries.delivered == 1)
        #expect(receiver.received.count == 1)
        let request = try #require(receiver.received.first)
        #expect(request.verified == true)
        let data = try #require(request.json?["data"] as? [String: Any])
        #expect(data["job"] as? String == "counter")
        #expect(data["runId"] as? Int == report.runID)
        #expect(data["events"] as? Int == 3)
        #expect(data["keys"] as? [String] == ["1", "2"])
        #expect(
            try f.rows("SELECT message_id, state, attempts, last_status FROM projector.webhook_outbox") == [
                [request.id, "delivered", "1", "200"]
            ])
    }

    @Test func aFailedDeliveryStaysInTheOutboxAndALaterRunDeliversItWithTheSameId() throws {
        try Guarantees.aFailedDeliveryIsRetriedWithTheSameIdAndBody(try PostgresFixture())
    }

    @Test func aKeyFailingInOneJobLeavesAnotherJobsWorkOnTheKey() throws {
        try Guarantees.aKeyFailingInOneJobLeavesAnotherJobsWorkOnTheKey(try PostgresFixture())
    }
}
