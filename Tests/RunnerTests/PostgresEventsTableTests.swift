import Foundation
import PostgresClient
import PostgresStore
import ProjectorCore
import QaHubDemo
import Runner
import TestSupport
import Testing
import Webhooks

/// Runs that read an events table (`--journal postgres:TABLE`, SPEC §10): segments checkpointed
/// per transaction, the snapshot horizon, per-aggregate versions, a failing key's segment.
/// The reading horizon is the whole server's: a transaction another test holds open anywhere on
/// it holds these runs back (lag, never loss). The tests run one at a time, and a run expected to
/// find work runs again until it has (`settle`).
@Suite(.postgresServer, .serialized) struct PostgresEventsTableTests {
    static let ledgerJob = """
        -- dialect: postgres
        -- on: PING           key: aggregateId
        -- @setup
        CREATE TABLE IF NOT EXISTS ledger(
            event_id text PRIMARY KEY, aggregate_id text NOT NULL, version bigint, applied bigserial);
        CREATE TABLE IF NOT EXISTS poison_events(id text PRIMARY KEY);
        CREATE OR REPLACE FUNCTION ledger_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM poison_events WHERE id = NEW.event_id) THEN RAISE EXCEPTION 'poisoned'; END IF;
            RETURN NEW;
        END $$;
        CREATE OR REPLACE TRIGGER ledger_poison BEFORE INSERT ON ledger FOR EACH ROW EXECUTE FUNCTION ledger_poison();
        -- @apply
        INSERT INTO ledger(event_id, aggregate_id, version) VALUES(:id, :aggregate_id, (:data->>'v')::bigint);
        """

    static let countsJob = """
        -- dialect: postgres
        -- on: PING           key: data.group
        -- after: ledger
        -- @setup
        CREATE TABLE IF NOT EXISTS group_counts(grp text PRIMARY KEY, n bigint NOT NULL);
        -- @refresh
        DELETE FROM group_counts WHERE grp = :key::text;
        INSERT INTO group_counts(grp, n)
        SELECT :key::text, count(*) FROM ledger l JOIN events e ON e.id = l.event_id
        WHERE e.data->>'group' = :key::text;
        """

    let f: PostgresFixture
    let table: PGEventsTable

    init() throws {
        f = try PostgresFixture(jobs: ["ledger": Self.ledgerJob, "counts": Self.countsJob])
        f.options.journalPath = "postgres:events"
        f.options.retry = RetryPolicy(baseDelay: 0.05, maxDelay: 0.05, maxAttempts: 100)
        table = try #require(PGEventsTable("events"))
        try f.connection.execute(table.ddl)
    }

    /// Appends an event on `connection` (autocommit unless it is inside a transaction).
    func append(
        _ id: String, aggregate: String, version: Int? = nil, group: String = "g", type: String? = "PING",
        on connection: PGConnection? = nil
    ) throws {
        try (connection ?? f.connection).query(
            table.insert,
            [
                id, type, "agg", aggregate, version.map(String.init), nil,
                #"{"v": \#(version.map(String.init) ?? "null"), "group": "\#(group)"}"#, "{}",
            ])
    }

    /// Runs until they have applied `events` in all (rejected `rejects`), for at most 30 seconds.
    @discardableResult
    func settle(events: Int, rejects: Int = 0, _ configure: (inout RunOptions) -> Void = { _ in }) throws -> RunReport {
        var total = try f.run(configure)
        let deadline = Date().addingTimeInterval(30)
        while (total.events < events || total.rejects < rejects) && Date() < deadline {
            usleep(50_000)
            let next = try f.run(configure)
            total.events += next.events
            total.rejects += next.rejects
            total.failures += next.failures
        }
        return total
    }

    @Test func eachEventIsAppliedOnceAndEverySegmentCheckpointed() throws {
        for i in 1...300 { try append("e\(i)", aggregate: "a\(i % 30)", version: (i - 1) / 30 + 1, group: "g\(i % 7)") }
        let first = try settle(events: 600)
        #expect(first.events == 600)
        #expect(first.failures == 0)
        #expect(try f.scalar("SELECT count(*) FROM ledger") == 300)
        #expect(try f.scalar("SELECT count(*) FROM projector.segments") == 2 * PGStore.segmentCount)
        #expect(try f.scalar("SELECT sum(events_applied) FROM projector.segments WHERE job = 'ledger'") == 300)
        // Every aggregate's versions applied in order.
        #expect(
            try f.scalar(
                """
                SELECT count(*) FROM (SELECT version, row_number() OVER (PARTITION BY aggregate_id ORDER BY applied) AS n
                FROM ledger) AS t WHERE version <> n
                """) == 0)
        // The refresh job after the ledger equals a recompute.
        #expect(
            try f.scalar(
                """
                SELECT count(*) FROM (SELECT grp, n FROM group_counts EXCEPT ALL
                SELECT data->>'group', count(*) FROM events GROUP BY 1) AS d
                """) == 0)
        #expect(try f.run().events == 0)
        try append("e301", aggregate: "a1", version: 11)
        let third = try settle(events: 2)
        #expect(third.events == 2, "\(third.events) \(third.batches) \(third.failures)")
        #expect(try f.scalar("SELECT count(*) FROM ledger") == 301)
    }

    @Test func aTransactionStillOpenHoldsReadersBackAndIsNeverSkipped() throws {
        let slow = try f.database.connect()
        try slow.execute("BEGIN")
        try append("first", aggregate: "a", on: slow)
        // A later transaction commits first: its row is past the horizon the open one holds.
        try append("second", aggregate: "b")
        #expect(try f.run().events == 0)
        #expect(try f.scalar("SELECT count(*) FROM ledger") == 0)
        try slow.execute("COMMIT")
        #expect(try settle(events: 2) { $0.selectedJobs = ["ledger"] }.events == 2)
        #expect(try f.rows("SELECT event_id FROM ledger ORDER BY applied") == [["first"], ["second"]])
    }

    /// Reading order compares xids as numbers: a row of xid 99 comes before one of xid 100 (as
    /// text, "100" sorts first), so a window cut after one row holds the lower xid, and a run
    /// applies both in that order, once each.
    @Test func rowsAreReadInXidOrderWhateverTheXidsLength() throws {
        try f.connection.execute(
            """
            INSERT INTO events(xid, id, type, aggregate_type, aggregate_id, data, metadata) VALUES
                ('99', 'low', 'PING', 'agg', 'a', '{}', '{}'), ('100', 'high', 'PING', 'agg', 'a', '{}', '{}')
            """)
        let low = try f.scalar("SELECT seq FROM events WHERE id = 'low'")
        let first = try f.connection.query(table.window, ["0", "0", "0", "1", "1"])
        #expect(first.first?.int(0) == low)
        let report = try settle(events: 2) { $0.selectedJobs = ["ledger"] }
        #expect(report.failures == 0)
        #expect(try f.rows("SELECT event_id FROM ledger ORDER BY applied") == [["low"], ["high"]])
        #expect(try f.run { $0.selectedJobs = ["ledger"] }.events == 0)
    }

    /// The lowest checkpoint of a job (the cap of the jobs after it) compares xids as numbers.
    @Test func theLowestCheckpointComparesXidsAsNumbers() throws {
        try f.run()
        try f.connection.execute(
            """
            UPDATE projector.segments SET epoch = 1, xid = CASE segment WHEN 7 THEN '99' ELSE '100' END::xid8, seq = 5
            WHERE job = 'ledger'
            """)
        let store = try PGStore(connection: try f.database.connect())
        let lowest = try store.lowestPosition(of: ["ledger"])
        #expect(lowest == EventsTablePosition(epoch: 1, xid: 99, seq: 5))
    }

    @Test func aLaterVersionReadFirstWaitsForTheOneBeforeIt() throws {
        // The transaction writing version 2 began (took its xid) before the one writing version 1,
        // so version 2 comes first in reading order; one event per transaction splits them.
        let late = try f.database.connect()
        try late.execute("BEGIN")
        try late.query("SELECT pg_current_xact_id()")
        try append("v1", aggregate: "x", version: 1)
        try append("v2", aggregate: "x", version: 2, on: late)
        try late.execute("COMMIT")
        let report = try settle(events: 2) {
            $0.batchEvents = 1
            $0.selectedJobs = ["ledger"]
        }
        #expect(report.failures == 0)
        #expect(try f.rows("SELECT event_id FROM ledger ORDER BY applied") == [["v1"], ["v2"]])
        #expect(try f.scalar("SELECT count(*) FROM projector.version_holds") == 0)
        #expect(try f.scalar("SELECT version FROM projector.key_versions WHERE key = 'x'") == 2)
    }

    @Test func aJobAfterAnotherWaitsForItsHeldEventsNotOnlyItsCheckpoint() throws {
        // Version 2 (group B) comes first in reading order and is held; version 1 (group A)
        // releases it a window later. The group count after the ledger must not be computed for
        // B before the ledger applied version 2.
        let late = try f.database.connect()
        try late.execute("BEGIN")
        try late.query("SELECT pg_current_xact_id()")
        try append("v1", aggregate: "x", version: 1, group: "A")
        try append("v2", aggregate: "x", version: 2, group: "B", on: late)
        try late.execute("COMMIT")
        try settle(events: 4) { $0.batchEvents = 1 }
        #expect(try f.rows("SELECT event_id FROM ledger ORDER BY applied") == [["v1"], ["v2"]])
        #expect(try f.rows("SELECT grp, n FROM group_counts ORDER BY grp") == [["A", "1"], ["B", "1"]])
    }

    @Test func aFailingKeyStopsItsSegmentAloneUntilItSucceeds() throws {
        try f.connection.execute(
            "CREATE TABLE poison_events(id text PRIMARY KEY); INSERT INTO poison_events VALUES('bad')")
        for i in 1...40 { try append("e\(i)", aggregate: "k\(i)") }
        try append("bad", aggregate: "k1")
        try append("after", aggregate: "k1")
        let report = try settle(events: 40) { $0.selectedJobs = ["ledger"] }
        #expect(report.failures >= 1)
        #expect(try f.scalar("SELECT count(*) FROM ledger") == 40)
        #expect(try f.scalar("SELECT count(*) FROM projector.segments WHERE error LIKE '%poisoned%'") == 1)
        // A later run, the key still failing (retried or still waiting for its retry): its segment's
        // keys are behind, and the run's outcome says so (exit 65), not "caught up".
        let again = try f.run { $0.selectedJobs = ["ledger"] }
        #expect(again.failingSegments == 1)
        #expect(again.outcome == .failures)
        try f.connection.execute("DELETE FROM poison_events")
        usleep(200_000)
        #expect(try settle(events: 2) { $0.selectedJobs = ["ledger"] }.failures == 0)
        #expect(try f.scalar("SELECT count(*) FROM ledger") == 42)
        #expect(
            try f.rows("SELECT event_id FROM ledger WHERE aggregate_id = 'k1' ORDER BY applied") == [
                ["e1"], ["bad"], ["after"],
            ])
        #expect(try f.scalar("SELECT count(*) FROM projector.segments WHERE error IS NOT NULL") == 0)
        #expect(try f.run { $0.selectedJobs = ["ledger"] }.outcome == .caughtUp)
    }

    @Test func aBatchQueuesItsNotificationAndAClaimedDeliveryGoesOutOnce() throws {
        let secret = try WebhookSecret(WebhookSecret.generate())
        let receiver = try WebhookReceiver(secrets: [secret])
        f.options.endpoints = [
            WebhookEndpoint(
                name: "dash", url: receiver.url, secrets: [secret], jobs: ["ledger"], timeout: 5, connectTimeout: 1,
                policy: DeliveryPolicy(), allowHTTP: true)
        ]
        for i in 1...5 { try append("e\(i)", aggregate: "a\(i)") }
        let report = try settle(events: 5) { $0.selectedJobs = ["ledger"] }
        #expect(report.notificationsQueued >= 1)
        #expect(receiver.wait(for: report.notificationsQueued))
        let bodies = receiver.received.compactMap(\.json)
        let keys = Set(bodies.flatMap { (($0["data"] as? [String: Any])?["keys"] as? [String]) ?? [] })
        #expect(keys == ["a1", "a2", "a3", "a4", "a5"])
        #expect(receiver.received.allSatisfy { $0.verified == true })
        #expect(
            try f.scalar("SELECT count(*) FROM projector.webhook_outbox WHERE state = 'delivered'")
                == report.notificationsQueued)
        #expect(try f.scalar("SELECT count(*) FROM projector.webhook_outbox WHERE claimed_until IS NOT NULL") == 0)
        // A row another runner claimed is left alone until its claim expires.
        try f.connection.execute(
            """
            UPDATE projector.webhook_outbox SET state = 'pending', next_attempt_at = 0,
                claimed_until = extract(epoch FROM now()) + 3600
            """)
        let before = receiver.received.count
        try append("e6", aggregate: "a6")
        let again = try settle(events: 1) { $0.selectedJobs = ["ledger"] }
        #expect(receiver.wait(for: before + again.notificationsQueued))
        usleep(200_000)
        #expect(receiver.received.count == before + again.notificationsQueued)
    }

    @Test func aRowMissingARequiredFieldIsARejectRecordedOnce() throws {
        try append("e1", aggregate: "a")
        try append("broken", aggregate: "b", type: nil)
        try append("e3", aggregate: "c")
        let report = try settle(events: 2, rejects: 1) { $0.selectedJobs = ["ledger"] }
        #expect(report.rejects == 1)
        #expect(try f.scalar("SELECT count(*) FROM ledger") == 2)
        #expect(try f.scalar("SELECT count(*) FROM projector.rejects") == 1)
        #expect(try f.run { $0.selectedJobs = ["ledger"] }.rejects == 0)
        #expect(try SegmentedStatus.load(options: f.options).rejects == 1)
        // A run's positions on an events table are the rows' seq.
        #expect(report.toPosition == 3)
    }

    @Test func maxEventsStopsAOneShotRunBetweenBatches() throws {
        for i in 1...50 { try append("e\(i)", aggregate: "a\(i)") }
        let first = try settle(events: 1) {
            $0.selectedJobs = ["ledger"]
            $0.batchEvents = 10
            $0.maxEvents = 10
        }
        #expect(first.stoppedEarly)
        #expect(first.events < 50)
        let rest = try settle(events: 50 - first.events) { $0.selectedJobs = ["ledger"] }
        #expect(first.events + rest.events == 50)
        #expect(try f.scalar("SELECT count(*) FROM ledger") == 50)
    }

    @Test func aMissingEventsTableIsAConfigurationErrorNamingTheCommandThatMakesIt() throws {
        do {
            try f.run { $0.journalPath = "postgres:missing_events" }
            Issue.record("a run went ahead without its events table")
        } catch {
            guard case .configuration(let message) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(message.contains("projector events init"), "\(message)")
        }
    }

    @Test func aJournalNamingAnEventsTableNeedsPostgreSQL() throws {
        var options = f.options
        options.databasePath = f.workspace.dir.file("p.db")
        do {
            _ = try Fixture.run(options, clock: f.clock) { _ in }
            Issue.record("an events table was read from SQLite")
        } catch {
            guard case .usage(let message) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(message.contains("PostgreSQL"), "\(message)")
        }
    }
}
