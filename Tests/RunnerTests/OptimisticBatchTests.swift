import Foundation
import Runner
import TestSupport
import Testing

/// A job's keys in a batch run together in one savepoint while none fails; a failure in the
/// middle of a large batch must give exactly the per-key outcome.
@Suite struct OptimisticBatchTests {
    /// `count` events round-robin over `keys` keys named k0…, with ids e0….
    static func events(_ f: Fixture, count: Int, keys: Int) -> [String] {
        (0..<count).map { f.ping("k\($0 % keys)", id: "e\($0)") }
    }

    @Test func aRefreshKeyFailingInTheMiddleOfALargeBatchIsRolledBackAloneAndTheRestCommits() throws {
        // Given 300 keys in one batch (a first batch holds up to 1,000 events), one of them poisoned
        let f = try Fixture(jobs: ["counter": Fixture.refreshJob])
        try f.run()
        try f.execute("INSERT INTO poison VALUES('k150')")
        try f.workspace.append(lines: Self.events(f, count: 900, keys: 300))

        // When the batch runs
        let report = try f.run()

        // Then every other key is refreshed once, the poisoned one is recorded, the checkpoint moved
        #expect(report.batches == 1)
        #expect(report.failures == 1)
        #expect(report.jobs.first?.executions == 299)
        #expect(try f.scalar("SELECT count(*) FROM refreshes") == 299)
        #expect(try f.scalar("SELECT count(*) FROM refreshes WHERE n != 1") == 0)
        #expect(try f.scalar("SELECT count(*) FROM refreshes WHERE key = 'k150'") == 0)
        #expect(try f.rows("SELECT key, state, attempts FROM projector_failures") == [["k150", "retrying", "1"]])
        #expect(try f.scalar("SELECT position FROM projector_checkpoints WHERE job = 'counter'") == report.journalEnd)
    }

    @Test func anApplyEventFailingInTheMiddleOfALargeBatchParksOnlyItsKeyFromThatEvent() throws {
        // Given 990 events over 300 keys in one batch; event e500 (key k200) fails
        let f = try Fixture(jobs: ["log": Fixture.applyJob])
        try f.run()
        try f.execute("INSERT INTO poison_events VALUES('e500')")
        try f.workspace.append(lines: Self.events(f, count: 990, keys: 300))

        // When the batch runs
        let report = try f.run()

        // Then k200 keeps its event before e500 and holds e500 and the later one, in order
        #expect(report.batches == 1)
        #expect(report.failures == 1)
        #expect(try f.rows("SELECT id FROM applied WHERE key = 'k200' ORDER BY seq") == [["e200"]])
        #expect(try f.scalar("SELECT count(*) FROM projector_held_events WHERE key = 'k200'") == 2)
        #expect(try f.rows("SELECT key, state FROM projector_failures") == [["k200", "parked"]])
        // And every other event is applied exactly once, each key's in journal order
        #expect(try f.scalar("SELECT count(*) FROM applied") == 990 - 2)
        #expect(try f.scalar("SELECT count(DISTINCT id) FROM applied") == 990 - 2)
        let k7 = try f.rows("SELECT id FROM applied WHERE key = 'k7' ORDER BY seq").map { $0[0] }
        #expect(k7 == stride(from: 7, to: 990, by: 300).map { "e\($0)" })
        #expect(report.jobs.first?.executions == 990 - 2)
    }

    @Test func aFailingRefreshKeyThatSucceedsInALargeBatchIsClearedAndCountedAsRecovered() throws {
        // Given a key that failed
        let f = try Fixture(jobs: ["counter": Fixture.refreshJob])
        try f.run()
        try f.execute("INSERT INTO poison VALUES('k3')")
        try f.workspace.append(lines: Self.events(f, count: 50, keys: 10))
        #expect(try f.run().failures == 1)

        // When its cause is gone and a batch with it and many other keys runs
        try f.execute("DELETE FROM poison")
        try f.workspace.append(lines: Self.events(f, count: 50, keys: 10))
        let report = try f.run()

        // Then the key is refreshed with the others and its failure is gone
        #expect(report.recovered == 1)
        #expect(try f.scalar("SELECT count(*) FROM projector_failures") == 0)
        #expect(try f.rows("SELECT n FROM refreshes WHERE key = 'k3'") == [["1"]])
        #expect(try f.rows("SELECT n FROM refreshes WHERE key = 'k4'") == [["2"]])
    }

    @Test func aParkedKeysNewEventsAreHeldWhileTheOtherKeysOfTheBatchApplyTogether() throws {
        // Given a parked key
        let f = try Fixture(jobs: ["log": Fixture.applyJob])
        try f.run()
        try f.execute("INSERT INTO poison_events VALUES('e5')")
        try f.workspace.append(lines: Self.events(f, count: 20, keys: 10))
        try f.run()
        #expect(try f.rows("SELECT key, state FROM projector_failures") == [["k5", "parked"]])

        // When a batch brings events for it and for the others
        try f.workspace.append(lines: (20..<520).map { f.ping("k\($0 % 10)", id: "e\($0)") })
        let report = try f.run()

        // Then its events are held behind the failed one and the others are applied
        #expect(report.batches == 1)
        #expect(report.jobs.first?.held == 50)
        #expect(try f.scalar("SELECT count(*) FROM applied WHERE key = 'k5'") == 0)
        #expect(try f.scalar("SELECT count(*) FROM applied") == 520 - 52)
        #expect(try f.scalar("SELECT count(*) FROM projector_held_events") == 52)
    }
}
