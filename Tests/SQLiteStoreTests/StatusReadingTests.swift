import ProjectorCore
import SQLiteStore
import TestSupport
import Testing

/// `status`'s reading of the runner's tables in one call.
@Suite struct StatusReadingTests {
    @Test func aDatabaseNoRunHasUsedHasNoStatus() throws {
        let dir = TemporaryDirectory("projector-status")
        let db = try Database(path: dir.file("app.db"))
        try db.execute("CREATE TABLE things(id INTEGER)")
        var options = Database.Options()
        options.readOnly = true
        #expect(try RunnerStore.open(path: dir.file("app.db"), options: options).status() == nil)
    }

    @Test func theStatusCountsFailuresHeldEventsRejectsAndNotificationsPerJobAndNamesTheLastRun() throws {
        let f = try OperatorStoreFixture()
        try f.store.transaction { () throws(StoreError) in
            let first = try f.store.beginRun(now: 1, from: 0)
            try f.store.finishRun(
                FinishedRun(
                    id: first, finishedAt: 2, toPosition: 50, events: 5, rejects: 1, failures: 2, outcome: "failures",
                    exitCode: 65))
            _ = try f.store.beginRun(now: 3, from: 50)
            try f.store.saveCheckpoint(
                job: "totals", anchor: CursorAnchor(position: 50, start: 40, hash: 0xab, segment: "s"),
                fingerprint: "f1", eventsAdded: 5, now: 2)
            try f.store.saveFailure(f.failure("totals", "a", .retrying, first: 1), mode: .refresh, now: 2)
            try f.store.saveFailure(f.failure("totals", "b", .parked, first: 2), mode: .apply, now: 2)
            try f.store.saveFailure(f.failure("totals", "c", .dead, first: 3), mode: .apply, now: 2)
            try f.store.hold(FailureKey(job: "totals", key: "b"), events: [HeldEvent(position: 2, length: 4)])
            _ = try f.store.recordRejects(
                [
                    Reject(position: 7, length: 3, reason: .notAnObject, excerpt: []),
                    Reject(position: 9, length: 3, reason: .notAnObject, excerpt: [], job: "totals"),
                ], runID: first, now: 2)
            try f.store.enqueue(
                messageID: "m", endpoint: "dash", job: "totals", runID: first, body: [], now: 2, state: .pending)
            try f.store.disableEndpoint("dash", reason: "410", now: 2)
        }
        let status = try #require(try f.reader().status())
        #expect(status.checkpoints["totals"]?.position == 50)
        #expect(status.failures == ["totals": FailureCounts(retrying: 1, parked: 1, dead: 1, held: 1)])
        #expect(status.rejects == ["": 1, "totals": 1])
        #expect(status.outbox == [.disabled: 1])
        #expect(status.disabledEndpoints == ["dash"])
        #expect(
            status.lastRun
                == RunRecord(
                    id: 2, startedAt: 3, finishedAt: nil, events: 0, rejects: 0, failures: 0, outcome: "running",
                    exitCode: nil))
    }
}
