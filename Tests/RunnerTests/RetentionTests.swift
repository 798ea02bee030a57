import Foundation
import ProjectorCore
import Runner
import SQLiteStore
import TestSupport
import Testing

/// Runs prune what is older than the retention period (runs, delivered notifications), a bounded
/// number of rows per run, and never what is still needed.
@Suite struct RetentionTests {
    static let day = 86_400.0

    /// Adds notifications to the outbox at the fixture's time, one per state, through the store.
    static func enqueue(_ f: Fixture, states: [OutboxState]) throws {
        let store = try RunnerStore.open(path: f.options.databasePath, options: Database.Options())
        let now = f.clock.now()
        try store.transaction { () throws(StoreError) in
            for (index, state) in states.enumerated() {
                try store.enqueue(
                    messageID: "m\(index)", endpoint: "dash", job: "counter", runID: 1, body: Array("{}".utf8),
                    now: now, state: state == .delivered ? .pending : state)
                guard state == .delivered else { continue }
                let id = Int(store.db.lastInsertRowID)
                try store.recordAttempt(
                    DeliveryAttempt(
                        id: id, state: .delivered, attempts: 1, at: now, nextAttemptAt: now, status: 200, error: nil))
            }
        }
    }

    @Test func aOneShotRunThatFindsNothingStillRecordsItsRun() throws {
        let f = try Fixture()
        try f.append(f.ping("a"))
        try f.run()
        try f.run()
        try f.run()
        #expect(
            try f.rows("SELECT events, outcome FROM projector_runs ORDER BY id") == [
                ["1", "ok"], ["0", "ok"], ["0", "ok"],
            ])
    }

    @Test func aRunAfterTheRetentionPeriodPrunesOldRunsAndDeliveredNotificationsAndKeepsWhatIsStillNeeded() throws {
        // Given a run, a dead key with held events, and notifications in every state, all at day 0
        let f = try Fixture()
        f.options.retry = RetryPolicy(baseDelay: 10, maxDelay: 10, maxAttempts: 1)
        try f.run()
        try f.execute("INSERT INTO poison_events VALUES('bad')")
        try f.append(f.ping("a"), f.ping("k", id: "bad"), f.ping("k"))
        try f.run()
        try Self.enqueue(f, states: [.delivered, .pending, .dead, .disabled, .delivered])
        let failuresBefore = try f.rows("SELECT job, key, state FROM projector_failures")
        let heldBefore = try f.scalar("SELECT count(*) FROM projector_held_events")
        #expect(!failuresBefore.isEmpty)
        #expect(heldBefore > 0)

        // When a run comes 29 days later: nothing is old enough
        f.clock.time += 29 * Self.day
        try f.run()
        #expect(try f.scalar("SELECT count(*) FROM projector_runs") == 3)
        #expect(try f.scalar("SELECT count(*) FROM projector_webhook_outbox") == 5)

        // When a run comes 31 days after the first
        f.clock.time += 2 * Self.day
        try f.run()

        // Then the first runs and the delivered notifications are gone
        #expect(try f.scalar("SELECT count(*) FROM projector_runs") == 2)
        #expect(try f.scalar("SELECT min(started_at) FROM projector_runs") == Int(f.clock.time - 2 * Self.day))
        #expect(
            try f.rows("SELECT state FROM projector_webhook_outbox ORDER BY id") == [
                ["pending"], ["dead"], ["disabled"],
            ])
        // and the failure, its held event and the checkpoints are still there
        #expect(try f.rows("SELECT job, key, state FROM projector_failures") == failuresBefore)
        #expect(try f.scalar("SELECT count(*) FROM projector_held_events") == heldBefore)
        #expect(try f.scalar("SELECT count(*) FROM projector_checkpoints") == 2)
    }

    @Test func theRetentionPeriodIsASetting() throws {
        let f = try Fixture()
        try f.run()
        try Self.enqueue(f, states: [.delivered])
        f.clock.time += 2 * Self.day
        try f.run { $0.retentionDays = 3 }
        #expect(try f.scalar("SELECT count(*) FROM projector_runs") == 2)
        #expect(try f.scalar("SELECT count(*) FROM projector_webhook_outbox") == 1)
        try f.run { $0.retentionDays = 1 }
        #expect(try f.scalar("SELECT count(*) FROM projector_runs") == 2)
        #expect(try f.scalar("SELECT count(*) FROM projector_webhook_outbox") == 0)
    }

    @Test func pruningIsBoundedPerRun() throws {
        // Given 5 runs and 5 delivered notifications, all old
        let f = try Fixture()
        for _ in 0..<5 { try f.run() }
        try Self.enqueue(f, states: Array(repeating: .delivered, count: 5))
        f.clock.time += 31 * Self.day

        // When runs that may prune 2 rows of each kind run
        try f.run { $0.pruneLimit = 2 }
        // Then each prunes 2 old runs and 2 notifications, and keeps its own row
        #expect(try f.scalar("SELECT count(*) FROM projector_runs") == 5 - 2 + 1)
        #expect(try f.scalar("SELECT count(*) FROM projector_webhook_outbox") == 3)
        try f.run { $0.pruneLimit = 2 }
        #expect(try f.scalar("SELECT count(*) FROM projector_runs") == 5 - 4 + 2)
        #expect(try f.scalar("SELECT count(*) FROM projector_webhook_outbox") == 1)
        try f.run { $0.pruneLimit = 2 }
        #expect(try f.scalar("SELECT count(*) FROM projector_runs") == 3)
        #expect(try f.scalar("SELECT count(*) FROM projector_webhook_outbox") == 0)
    }
}
