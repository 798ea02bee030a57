import Foundation
import Journal
import ProjectorCore
import QaHubDemo
import Runner
import TestSupport
import Testing
import Webhooks

/// What the run scenarios need of a fixture: `Fixture` on SQLite or `PostgresFixture` on PostgreSQL,
/// each with the jobs `counter` (refresh, a key in `poison` fails) and `log` (apply).
protocol RunFixture: AnyObject {
    var workspace: Workspace { get }
    var clock: ManualClock { get }
    var options: RunOptions { get set }
    func append(_ lines: String...) throws
    @discardableResult func run(_ configure: (inout RunOptions) -> Void) throws(RunError) -> RunReport
    func rows(_ sql: String) throws -> [[String]]
    func scalar(_ sql: String) throws -> Int
    func execute(_ sql: String) throws
    /// The runner's table `name` (`failures`, `webhook_outbox`) as the store names it.
    func runnerTable(_ name: String) -> String
}

extension RunFixture {
    /// A first run (which creates the jobs' tables), then `poisoning` (SQL that makes keys or
    /// events fail) and `events` appended: where a test of failures starts.
    func start(poisoning: String, events: [String]) throws {
        _ = try run { _ in }
        try execute(poisoning)
        try workspace.append(lines: events)
    }
}

/// Guarantees that hold on every store, written once and run by the SQLite and the PostgreSQL suites.
enum Guarantees {
    /// A failing refresh key is retried after 10 s, then 20 s; after three attempts it is dead and
    /// time no longer retries it; a new event once the cause is gone refreshes it and clears it.
    static func failedKeysBackOffThenDieThenRecoverOnANewEvent(_ f: some RunFixture) throws {
        let failures = f.runnerTable("failures")
        try f.start(poisoning: "INSERT INTO poison VALUES('13')", events: [Fixture.ping("13")])
        try f.run { _ in }
        #expect(try f.rows("SELECT state, attempts FROM \(failures)") == [["retrying", "1"]])

        // Before the backoff has passed: not retried.
        f.clock.time += 5
        #expect(try f.run { _ in }.failures == 0)
        #expect(try f.scalar("SELECT attempts FROM \(failures)") == 1)

        // After 10 s: retried and failed again; the next delay doubles.
        f.clock.time += 6
        #expect(try f.run { _ in }.failures == 1)
        #expect(try f.scalar("SELECT attempts FROM \(failures)") == 2)
        let next = try f.rows("SELECT next_attempt_at FROM \(failures)").first?.first.flatMap(Double.init)
        #expect(next == f.clock.time + 20)

        // Third failure: dead (max 3 attempts); dead keys are not retried by time.
        f.clock.time += 21
        try f.run { _ in }
        #expect(try f.rows("SELECT state, attempts FROM \(failures)") == [["dead", "3"]])
        f.clock.time += 10_000
        #expect(try f.run { _ in }.failures == 0)
        #expect(try f.rows("SELECT state, attempts FROM \(failures)") == [["dead", "3"]])

        // The cause is fixed and a new event arrives for the key: it refreshes and the failure clears.
        try f.execute("DELETE FROM poison")
        try f.append(Fixture.ping("13"))
        let report = try f.run { _ in }
        #expect(report.recovered == 1)
        #expect(try f.scalar("SELECT count(*) FROM \(failures)") == 0)
        #expect(try f.rows("SELECT key, n FROM refreshes") == [["13", "1"]])
    }

    /// A delivery answered 500 stays pending in the outbox and is retried by a later run once due,
    /// with the same `webhook-id` and body and a fresh timestamp and signature.
    static func aFailedDeliveryIsRetriedWithTheSameIdAndBody(_ f: some RunFixture) throws {
        let receiver = try WebhookReceiver { index in .respond(status: index == 0 ? 500 : 200) }
        let secret = try WebhookSecret(WebhookSecret.generate())
        f.options.endpoints = [try dashEndpoint(receiver, secrets: [secret])]
        let outbox = f.runnerTable("webhook_outbox")
        try f.append(Fixture.ping("1"))
        let first = try f.run { _ in }
        #expect(first.notificationsQueued == 1)
        #expect(first.deliveries.retrying == 1)
        #expect(try f.rows("SELECT state, attempts, last_status FROM \(outbox)") == [["pending", "1", "500"]])
        let next = try f.rows("SELECT next_attempt_at FROM \(outbox)").first?.first.flatMap(Double.init) ?? 0
        #expect(next >= f.clock.time + 4.5 && next <= f.clock.time + 5.5)

        f.clock.time += 2
        #expect(try f.run { _ in }.deliveries.attempted == 0)  // not due yet
        f.clock.time += 10
        let second = try f.run { _ in }
        #expect(second.deliveries.delivered == 1)
        #expect(try f.rows("SELECT state, attempts, last_status FROM \(outbox)") == [["delivered", "2", "200"]])
        let requests = receiver.received
        #expect(requests.count == 2)
        #expect(requests.first?.id.hasPrefix("msg_") == true)
        #expect(requests.first?.id == requests.last?.id)
        #expect(requests.first?.body == requests.last?.body)
        #expect(requests.first?.timestamp != requests.last?.timestamp)
        #expect(requests.first?.signature != requests.last?.signature)
        for request in requests {
            try WebhookSigner.verify(
                headers: request.headers, body: request.body, secrets: [secret], now: Int(request.timestamp) ?? 0)
        }
    }

    /// Runs events of `a` and `b`, then writes `replacement` as the journal: the next run refuses
    /// with a checkpoint mismatch and applies nothing. Returns what the refusal said.
    static func aReplacedJournalIsRefused(_ f: some RunFixture, replacement: [String]) throws -> String {
        try f.append(Fixture.ping("a", id: "1"), Fixture.ping("b", id: "2"))
        try f.run { _ in }
        let checkpoints = try f.rows("SELECT job, position FROM \(f.runnerTable("checkpoints")) ORDER BY job")
        try f.workspace.dir.write("journal.jsonl", replacement.map { $0 + "\n" }.joined())
        var message = ""
        do {
            try f.run { _ in }
            Issue.record("a run went ahead on a replaced journal")
        } catch {
            message = error.description
            guard case .journal(.checkpointMismatch) = error else {
                Issue.record("unexpected error \(error)")
                return message
            }
        }
        #expect(try f.rows("SELECT id FROM applied ORDER BY seq") == [["1"], ["2"]])
        #expect(try f.rows("SELECT key, n FROM refreshes ORDER BY key") == [["a", "1"], ["b", "1"]])
        #expect(try f.rows("SELECT job, position FROM \(f.runnerTable("checkpoints")) ORDER BY job") == checkpoints)
        return message
    }

    /// Each job's work on a key is a savepoint of its own in the batch's transaction: `log` failing
    /// on `p` keeps `counter`'s refresh of `p`, and `counter` failing on `q` keeps `log`'s events of `q`.
    static func aKeyFailingInOneJobLeavesAnotherJobsWorkOnTheKey(_ f: some RunFixture) throws {
        try f.start(
            poisoning: "INSERT INTO poison_events VALUES('p2'); INSERT INTO poison VALUES('q')",
            events: [
                Fixture.ping("p", id: "p1"), Fixture.ping("p", id: "p2"), Fixture.ping("q", id: "q1"),
                Fixture.ping("q", id: "q2"), Fixture.ping("z", id: "z1"),
            ])
        #expect(try f.run { _ in }.failures == 2)
        #expect(try f.rows("SELECT key, n FROM refreshes ORDER BY key") == [["p", "1"], ["z", "1"]])
        #expect(try f.rows("SELECT id FROM applied ORDER BY seq") == [["p1"], ["q1"], ["q2"], ["z1"]])
        #expect(
            try f.rows("SELECT job, key, state FROM \(f.runnerTable("failures")) ORDER BY job") == [
                ["counter", "q", "retrying"], ["log", "p", "parked"],
            ])
    }
}
